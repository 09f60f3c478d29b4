/**
 * Processes: is a pid alive (a zombie counts as gone), the descendants of a
 * pid from /proc, waiting for pids to be gone, scripts run as a separate
 * parent process, and a last-resort kill of strays after each test.
 *
 * Pids are reused (docs/signals.md): a test signals only a live child of its
 * own process (killChild), or a process named by pid and start time, checked
 * right before (the strays).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { waitFor } from './events.js';
import { fixture } from './pools.js';

/** A process: its pid and its start time (clock ticks after boot, from /proc). */
export interface ProcessId {
  pid: number;
  start: number;
}

/** Processes to SIGKILL after the test if they still run, by pid → start time. */
const strays = new Map<number, number>();
/** The start time of each process a test knows by pid (its workers, its strays). */
const known = new Map<number, number>();
/** Children that outlive single tests on purpose (a test file's redis-server). */
const longLived = new Set<number>();

afterEach(() => {
  // Last resort after the assertions ran: never leave a `sleep 1000` behind for the next test.
  // Only the very process registered: after it exits, the busy machine may
  // give its pid to a stranger (pid_max can be as low as 32,768).
  for (const [pid, start] of strays) {
    if (statOf(pid)?.start !== start) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  strays.clear();
});

interface Stat {
  state: string;
  ppid: number;
  start: number;
}

function statOf(pid: number): Stat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, ppid: Number(fields[1]), start: Number(fields[19]) };
  } catch {
    return undefined;
  }
}

/** The start time of `pid` (clock ticks after boot, from /proc), or undefined when it is gone. */
export function startTime(pid: number): number | undefined {
  return statOf(pid)?.start;
}

/**
 * Remember which process `pid` is, if it is a child of this process now: a
 * child cannot be reaped (and its pid handed out again) but by us, so /proc
 * names it. makePool calls it for every worker it starts.
 */
export function rememberChild(pid: number): void {
  const stat = statOf(pid);
  if (stat !== undefined && stat.ppid === process.pid) known.set(pid, stat.start);
}

/**
 * Send `signal` to `pid` only if it is a live child of this process (a pool's
 * worker) and, when the test knows its start time, still that very process:
 * checked in /proc right before the signal, with no chance for this thread
 * to reap it in between. Returns whether it was sent.
 */
export function killChild(pid: number, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  const stat = statOf(pid);
  if (stat === undefined || stat.ppid !== process.pid || stat.state === 'Z') return false;
  const start = known.get(pid);
  if (start !== undefined && start !== stat.start) return false;
  process.kill(pid, signal);
  return true;
}

/**
 * True while `pid` is a live process (a zombie counts as gone) and, when the
 * test knows its start time, still that process (not a later one with its pid).
 */
export function isAlive(pid: number): boolean {
  const stat = statOf(pid);
  if (stat === undefined || stat.state === 'Z' || stat.state === 'X') return false;
  const start = known.get(pid);
  return start === undefined || start === stat.start;
}

/** True if `pid` exists at all, zombie included. */
export function exists(pid: number): boolean {
  try {
    readFileSync(`/proc/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}

/** Every descendant of `root` (children, grandchildren, ...), from /proc. */
export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(pid);
      children.set(ppid, list);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** A pool's sentinel among the children of `parent` (a `/bin/sh` named deadpool-sentinel), if one runs. */
export function sentinelOf(parent: number): ProcessId | undefined {
  for (const pid of descendantsOf(parent)) {
    const stat = statOf(pid);
    if (stat?.ppid !== parent || stat.state === 'Z') continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[3] === 'deadpool-sentinel') return { pid, start: stat.start };
    } catch {
      // it ended while we looked
    }
  }
  return undefined;
}

/**
 * SIGKILL `id`, a child of `parent` (a pool's sentinel, a child of a script
 * the test runs), only if it is still that very process and still `parent`'s
 * child: unreaped, its pid cannot name anyone else. Returns whether it was sent.
 */
export function killChildOf(parent: number, id: ProcessId): boolean {
  const stat = statOf(id.pid);
  if (stat?.ppid !== parent || stat.start !== id.start || stat.state === 'Z') return false;
  process.kill(id.pid, 'SIGKILL');
  return true;
}

/**
 * Let `pid`, a child started for a whole test file (its Redis), live across
 * tests: the after-test check for leftover children ignores it until the
 * returned function is called.
 */
export function keepAcrossTests(pid: number): () => void {
  longLived.add(pid);
  return () => void longLived.delete(pid);
}

/** The descendants of the test process that must not outlive a test. */
export function testDescendants(): number[] {
  return descendantsOf(process.pid).filter((pid) => !longLived.has(pid));
}

/** Wait until none of `pids` is alive; throws naming the survivors. */
export async function expectAllGone(pids: Iterable<number>, timeoutMs = 5_000): Promise<void> {
  const list = [...pids];
  await waitFor(() => list.every((pid) => !isAlive(pid)), {
    timeoutMs,
    what: `processes ${list.filter(isAlive).join(', ')} to exit`,
  }).catch(() => {
    throw new Error(`processes still alive: ${list.filter(isAlive).join(', ')}`);
  });
}

/**
 * Remember processes that must be SIGKILLed after the test whatever happened,
 * for processes that are not descendants of the test process (orphaned
 * grandchildren, workers of a killed parent). Call it before asserting they
 * are gone. A bare pid must name the process meant *now* (just found in
 * /proc, or blocked for good): its start time is read here. A process that
 * may have died already (its pid free for anyone) must come with the start
 * time it had when it was started (the fixtures' markers carry it).
 */
export function killAfterTest(processes: Iterable<number | ProcessId>): void {
  for (const item of processes) {
    const id = typeof item === 'number' ? { pid: item, start: startTime(item) } : item;
    if (id.start === undefined) continue;
    strays.set(id.pid, id.start);
    known.set(id.pid, id.start);
  }
}

/** A fixture script started as its own `node` process, with its stdout collected. */
export interface Script {
  child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Resolves with the first complete stdout line, parsed as JSON. */
  firstLine<T>(timeoutMs?: number): Promise<T>;
  /** Resolves with `{ code, signal }` when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `node test/fixtures/<folder>/<name> ...args`. */
export function runScript(name: string, args: string[] = [], folder = 'faults'): Script {
  const path = fileURLToPath(fixture(`${folder}/${name}`));
  const child = spawn(process.execPath, [path, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    stdout: () => out,
    exited,
    async firstLine<T>(timeoutMs = 15_000): Promise<T> {
      const line = await waitFor(
        () => (out.includes('\n') ? out.slice(0, out.indexOf('\n')) : ''),
        {
          timeoutMs,
          what: `a line on stdout of ${name} (stderr so far: ${JSON.stringify(err.slice(-2000))})`,
        },
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}; stderr: ${err.slice(-2000)}`);
      });
      return JSON.parse(line) as T;
    },
  };
}

/** Pids among `pids` still alive now. */
export function survivors(pids: Iterable<number>): number[] {
  return [...pids].filter(isAlive);
}
