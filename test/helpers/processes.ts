/**
 * Processes: is a pid alive (a zombie counts as gone), the descendants of a
 * pid from /proc, waiting for pids to be gone, scripts run as a separate
 * parent process, and a last-resort kill of strays after each test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { waitFor } from './events.js';
import { fixture } from './pools.js';

/** pid → its start time (from /proc) when registered, so a reused pid is never killed. */
const strays = new Map<number, string>();
/** Children that outlive single tests on purpose (a test file's redis-server). */
const longLived = new Set<number>();

afterEach(() => {
  // Last resort after the assertions ran: never leave a `sleep 1000` behind for the next test.
  // Only the very process registered: after it exits, the busy machine may
  // give its pid to a stranger (pid_max can be as low as 32,768).
  for (const [pid, started] of strays) {
    if (startTime(pid) !== started) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  strays.clear();
});

/** True while `pid` is a live process (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
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
 * Remember pids that must be SIGKILLed after the test whatever happened, for
 * processes that are not descendants of the test process (orphaned
 * grandchildren, workers of a killed parent). Call it before asserting they are gone.
 */
export function killAfterTest(pids: Iterable<number>): void {
  for (const pid of pids) {
    const started = startTime(pid);
    if (started !== undefined) strays.set(pid, started);
  }
}

/** The start time of `pid` (clock ticks after boot, from /proc), or undefined when it is gone. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
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
