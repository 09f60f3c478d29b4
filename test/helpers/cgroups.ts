/**
 * Containment in tests: the cgroups a pool made (named after their owner:
 * `deadpool-<pid namespace>-<pid>-<start time>-<n>`), the daemons a task
 * started (found by the pid file they wrote, each with its start time), and
 * the cleanup after each test: daemons still running are SIGKILLed only if
 * their pid still has the start time they wrote, and the cgroups of owners
 * that are gone (a parent killed on purpose) are removed.
 */
import {
  existsSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { waitFor } from './events.js';
import { startTime } from './processes.js';

const ROOT = '/sys/fs/cgroup';
const NAME = /^deadpool-(\d+)-(\d+)-(\d+)-\d+$/;

export interface Daemon {
  pid: number;
  start: number;
}

const registered = new Map<number, number>();

afterEach(async () => {
  for (const [pid, start] of registered) {
    if (startTime(pid) !== start) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  registered.clear();
  await waitFor(() => removeDeadOwners() === 0, {
    timeoutMs: 5_000,
    what: `the cgroups of gone pools removed (left: ${deadpoolCgroups().join(', ')})`,
  });
});

/** The daemon is still running: its pid has its start time and is no zombie. */
export function daemonAlive({ pid, start }: Daemon): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]) === start && fields[0] !== 'Z' && fields[0] !== 'X';
  } catch {
    return false;
  }
}

/** The daemons listed in `pidFile` (`pid start` lines), registered for the after-test kill. */
export function readDaemons(pidFile: string): Daemon[] {
  if (!existsSync(pidFile)) return [];
  const out: Daemon[] = [];
  for (const line of readFileSync(pidFile, 'utf8').split('\n')) {
    const [pid, start] = line.trim().split(' ');
    if (!pid || !start) continue;
    out.push({ pid: Number(pid), start: Number(start) });
    registered.set(Number(pid), Number(start));
  }
  return out;
}

/** Wait until `pidFile` lists `n` daemons. */
export function daemonsStarted(pidFile: string, n: number, timeoutMs = 15_000): Promise<Daemon[]> {
  return waitFor(
    () => {
      const list = readDaemons(pidFile);
      return list.length >= n ? list : undefined;
    },
    { timeoutMs, what: `${n} daemons in ${pidFile}` },
  );
}

/** The v1 memory cgroup of this process (pools nest theirs under it). */
function memoryBase(): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => /^\d+:memory:/.test(l));
  return join(ROOT, 'memory', line?.split(':')[2] ?? '/');
}

/** Where pools of this process make their cgroups on this host. */
export function cgroupBases(): string[] {
  return [join(ROOT, 'unified'), join(ROOT, 'pids'), memoryBase()].filter(existsSync);
}

/** Every pool cgroup at the bases (optionally only those of `ownerPid`). */
export function deadpoolCgroups(ownerPid?: number): string[] {
  const out: string[] = [];
  for (const base of cgroupBases()) {
    for (const name of readdirSync(base)) {
      const match = NAME.exec(name);
      if (match && (ownerPid === undefined || Number(match[2]) === ownerPid)) {
        out.push(join(base, name));
      }
    }
  }
  return out;
}

/** The cgroup (relative path) of `pid` in the hierarchy named `which` ('' for v2). */
export function cgroupOf(pid: number, which: string, text?: string): string | undefined {
  const lines = (text ?? readFileSync(`/proc/${pid}/cgroup`, 'utf8')).split('\n');
  return lines.find((l) => l.split(':')[1] === which)?.split(':')[2];
}

/** Remove `dir` and its subdirectories; true when none is left (someone else may remove them first). */
function removeTree(dir: string): boolean {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
  for (const entry of entries) {
    if (entry.isDirectory() && !removeTree(join(dir, entry.name))) return false;
  }
  try {
    rmdirSync(dir);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** This process's pid namespace, as pool cgroup names carry it. */
const OWN_NS = /\d+/.exec(readlinkSync('/proc/self/ns/pid'))?.[0];

/**
 * Kill and remove the pool cgroups whose owner is gone; returns how many are
 * left. Only this pid namespace's: another's pids mean other processes here
 * (test/containment-namespaces.test.ts runs pools in one).
 */
export function removeDeadOwners(): number {
  let left = 0;
  for (const dir of deadpoolCgroups()) {
    const match = NAME.exec(dir.slice(dir.lastIndexOf('/') + 1))!;
    if (match[1] !== OWN_NS) continue; // another pid namespace's
    if (startTime(Number(match[2])) === Number(match[3])) continue; // a live pool's
    try {
      if (existsSync(join(dir, 'cgroup.kill'))) writeFileSync(join(dir, 'cgroup.kill'), '1');
    } catch {
      // removed meanwhile (the next pool's sweep, or the pool itself)
    }
    if (!removeTree(dir)) left++;
  }
  return left;
}
