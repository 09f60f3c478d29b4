/**
 * Killing a process tree with SIGKILL: the worker, its process group, and
 * every descendant, including those that left the group with `setsid`.
 *
 * On Linux the tree is read from /proc synchronously (no `ps` to spawn), after
 * stopping each member so nothing can fork while we look. Elsewhere it falls
 * back to `tree-kill`, guarded: tree-kill spawns `ps`, and an unhandled spawn
 * error would crash the host process.
 */
import { accessSync, closeSync, constants, openSync, readdirSync, readSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createRequire } from 'node:module';

const hasProc = process.platform === 'linux' && canRead('/proc/self/stat');
/**
 * /proc/<pid>/task/<tid>/children lists a thread's children: reading it for
 * a tree touches only the tree, where a full scan reads every process's stat
 * (milliseconds on a busy machine). Needs CONFIG_PROC_CHILDREN, so checked.
 */
const hasChildrenFiles = hasProc && canRead(`/proc/self/task/${process.pid}/children`);

function canRead(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** Parent pid of `pid` from /proc, or undefined when it is gone. */
export function readPpid(pid: number | 'self'): number | undefined {
  const stat = readSmall(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ', 2)[1]);
}

/** Map of parent pid → child pids, read from /proc in one pass. */
function childrenTable(): Map<number, number[]> {
  const table = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return table;
  }
  for (const entry of entries) {
    const code = entry.charCodeAt(0);
    if (code < 48 || code > 57) continue;
    const pid = Number(entry);
    const ppid = readPpid(pid);
    if (ppid === undefined) continue;
    const list = table.get(ppid);
    if (list) list.push(pid);
    else table.set(ppid, [pid]);
  }
  return table;
}

/** Reused by readSmall: /proc files are read in one or a few reads. */
let scratch: Buffer | undefined;

/**
 * A small /proc file as latin1 text, or undefined when it cannot be opened:
 * open, read, close (readFileSync also stats, and reads once more to see the
 * end, as procfs reports size 0). Kills read a few of these per process.
 */
function readSmall(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    scratch ??= Buffer.allocUnsafe(4096);
    let text = '';
    for (;;) {
      const n = readSync(fd, scratch, 0, scratch.length, null);
      text += scratch.toString('latin1', 0, n);
      // procfs hands out a file like this in one read unless it fills the buffer
      if (n < scratch.length) return text;
    }
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The children of every thread of `pid`. */
function childrenOf(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tids) {
    const text = readSmall(`/proc/${pid}/task/${tid}/children`);
    if (text === undefined) continue;
    for (const field of text.split(' ')) if (field !== '') out.push(Number(field));
  }
  return out;
}

/** Every descendant of `root` (not `root` itself), from /proc. Linux only. */
export function descendants(root: number): number[] {
  if (!hasProc) return [];
  if (hasChildrenFiles) {
    const out: number[] = [];
    const stack = childrenOf(root);
    while (stack.length > 0) {
      const pid = stack.pop()!;
      out.push(pid);
      stack.push(...childrenOf(pid));
    }
    return out;
  }
  const table = childrenTable();
  const out: number[] = [];
  const stack = [...(table.get(root) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    const kids = table.get(pid);
    if (kids) stack.push(...kids);
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILL every process left in the group `pgid` (a worker's group, after the worker exited). */
export function killGroup(pgid: number): void {
  signal(-pgid, 'SIGKILL');
}

/**
 * SIGKILL `pid`, its process group (when it leads one) and all descendants.
 * Returns how many descendants were found. Synchronous on Linux.
 */
export function killTree(pid: number, { group = true } = {}): number {
  if (!hasProc) {
    const finish = (): void => {
      if (group) signal(-pid, 'SIGKILL');
      signal(pid, 'SIGKILL');
    };
    signal(pid, 'SIGSTOP');
    if (!treeKillFallback(pid, finish)) finish();
    return 0;
  }
  // Freeze the tree first (the process and its group) so no member forks
  // between our look and the kill. (A process killing its own tree must not stop itself.)
  if (pid !== process.pid) {
    if (group) signal(-pid, 'SIGSTOP');
    signal(pid, 'SIGSTOP');
  }
  const found = killDescendants(pid);
  // Last, as it may be this very process.
  if (group) signal(-pid, 'SIGKILL');
  signal(pid, 'SIGKILL');
  return found;
}

/**
 * SIGKILL every descendant of `root` (and each group one of them leads), not
 * `root` itself: each found is stopped first, so none forks between the look
 * and the kill, and the whole tree is walked once. Returns how many were found.
 * Linux only (/proc); elsewhere it finds none.
 */
export function killDescendants(root: number): number {
  const seen = new Set<number>();
  for (let round = 0; round < 4; round++) {
    let fresh = 0;
    for (const child of descendants(root)) {
      if (seen.has(child)) continue;
      seen.add(child);
      signal(child, 'SIGSTOP');
      fresh++;
    }
    if (fresh === 0) break;
  }
  for (const child of seen) {
    // A descendant that called setsid leads its own group: take that group too.
    signal(-child, 'SIGKILL');
    signal(child, 'SIGKILL');
  }
  return seen.size;
}

let psAvailable: boolean | undefined;

function hasPs(): boolean {
  psAvailable ??= (process.env.PATH ?? '')
    .split(delimiter)
    .some((dir) => dir !== '' && canRead(join(dir, 'ps')));
  return psAvailable;
}

/** tree-kill walks the tree with `ps` while the root is stopped; `then` runs after it. */
function treeKillFallback(pid: number, then: () => void): boolean {
  if (!hasPs()) return false;
  try {
    const require = createRequire(import.meta.url);
    const treeKill = require('tree-kill') as (
      pid: number,
      sig: string,
      cb: (err?: Error) => void,
    ) => void;
    treeKill(pid, 'SIGKILL', then);
    return true;
  } catch {
    return false;
  }
}
