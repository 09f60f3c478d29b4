/**
 * Killing a process tree with SIGKILL: the worker, its process group, and
 * every descendant, including those that left the group with `setsid`.
 *
 * Pids are reused (pid_max can be 32,768, and a busy machine wraps it in
 * minutes), so no signal goes to a pid that could have changed hands:
 * - a process is named by its pid *and* its start time ({@link ProcessIdentity}),
 *   checked in /proc right before each signal;
 * - a descendant is found only below a process already stopped, whose
 *   children therefore cannot be reaped (and their pids handed out again)
 *   while we look;
 * - a process group is signalled only while it cannot be empty: its leader
 *   is a process we just checked, or (after the leader was reaped) a member
 *   that belonged to it is still in it.
 * docs/signals.md has the reasons, and the stray SIGKILL that taught them.
 *
 * Without /proc (macOS) nothing can be checked: a worker's tree is walked
 * by `tree-kill`, guarded (it spawns `ps`; an unhandled spawn error would
 * crash the host process), and a reaped leader's group is left alone.
 */
import { delimiter, join } from 'node:path';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { foreignProc, proc, type ProcReader } from './proc.js';

export { readPpid } from './proc.js';

/** One process: its pid, and its start time (clock ticks after boot, from /proc). */
export interface ProcessIdentity {
  readonly pid: number;
  readonly start: number;
}

/** What the helpers read and signal through; tests pass a fake /proc. */
export interface KillHost {
  readonly proc: ProcReader;
  /** Sends `sig` to `pid` (a negative pid: a process group); false when it failed. */
  send(pid: number, sig: NodeJS.Signals | 0): boolean;
}

function send(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

const machine: KillHost = { proc, send };

/**
 * The identity of `pid` now, or undefined when it is gone. Only meaningful
 * when the caller knows `pid` is the process it means at this moment: a
 * child it has not reaped (e.g. right after fork). Without /proc the start
 * time is NaN: nothing can be checked, and only killTree accepts it.
 */
export function identify(pid: number, host: KillHost = machine): ProcessIdentity | undefined {
  if (!host.proc.available) return { pid, start: Number.NaN };
  const stat = host.proc.stat(pid);
  return stat === undefined ? undefined : { pid, start: stat.start };
}

/** True while `id` still names a process (a zombie included): same pid, same start time. */
export function isSameProcess(id: ProcessIdentity, host: KillHost = machine): boolean {
  return host.proc.stat(id.pid)?.start === id.start;
}

/**
 * SIGSTOP every descendant of `root`, top-down, and return them. A process
 * is stopped before its children are read, and a child is taken only while
 * /proc still lists it under the parent we read it from: children of a
 * stopped process cannot be reaped, so each pid taken is still the process
 * found. `root` must be stopped, or be this process (its own children wait
 * for it to reap them). A few rounds catch a fork that was under way.
 */
function stopDescendants(root: number, host: KillHost): ProcessIdentity[] {
  const found = new Map<number, ProcessIdentity>();
  for (let round = 0; round < 4; round++) {
    let fresh = 0;
    const stack = host.proc.children(root).map((pid) => ({ pid, parent: root }));
    while (stack.length > 0) {
      const { pid, parent } = stack.pop()!;
      const stat = host.proc.stat(pid);
      if (stat === undefined || stat.ppid !== parent) continue; // gone, or no longer below us
      const known = found.get(pid);
      if (known !== undefined && known.start !== stat.start) continue;
      if (known === undefined) {
        found.set(pid, { pid, start: stat.start });
        host.send(pid, 'SIGSTOP');
        fresh++;
      }
      for (const child of host.proc.children(pid)) stack.push({ pid: child, parent: pid });
    }
    if (fresh === 0) break;
  }
  return [...found.values()];
}

/** SIGKILL `id` and the group it leads, if it is still the same process. */
function killStopped(id: ProcessIdentity, host: KillHost): void {
  const stat = host.proc.stat(id.pid);
  if (stat === undefined || stat.start !== id.start) return; // reaped: the pid may be anyone's now
  // A descendant that called setsid leads its own group: take that group too
  // (its members may have been reparented out of the tree).
  if (stat.pgid === id.pid) host.send(-id.pid, 'SIGKILL');
  host.send(id.pid, 'SIGKILL');
}

/**
 * SIGKILL every descendant of `root` (and each group one of them leads), not
 * `root` itself. `root` must be this process or a process already stopped
 * (see killTree). Returns how many were found. Linux only (/proc); elsewhere
 * it finds none.
 */
export function killDescendants(root: number, host: KillHost = machine): number {
  if (!host.proc.available) return 0;
  const found = stopDescendants(root, host);
  for (const id of found) killStopped(id, host);
  return found.length;
}

/**
 * SIGKILL a process, its process group (when it leads one) and all its
 * descendants, only if `target` still names the same process (for this
 * process, its pid is enough). Returns how many descendants were found, or
 * undefined when the target was gone (nothing was signalled). Synchronous on
 * Linux.
 */
export function killTree(
  target: ProcessIdentity | number,
  { group = true }: { group?: boolean } = {},
  host: KillHost = machine,
): number | undefined {
  const self = typeof target === 'number';
  if (self && target !== process.pid) {
    throw new TypeError(`deadpool bug: killTree(${target}) needs the process's start time`);
  }
  const pid = self ? target : target.pid;
  if (!host.proc.available) return treeKillFallback(pid, group, host);
  const same = (): boolean => self || isSameProcess(target, host);
  if (!same()) return undefined;
  // Freeze the tree first (the process and its group) so no member forks or
  // reaps between our look and the kill. (A process killing its own tree must not stop itself.)
  if (!self) {
    if (group) host.send(-pid, 'SIGSTOP');
    host.send(pid, 'SIGSTOP');
  }
  const found = killDescendants(pid, host);
  // Last, as it may be this very process. Checked again: a stopped process
  // can still be killed by someone else and reaped by its parent meanwhile.
  if (!same()) return found;
  if (group) host.send(-pid, 'SIGKILL');
  host.send(pid, 'SIGKILL');
  return found;
}

/**
 * SIGKILL the process group `leader` leads, and so `leader` itself, while it
 * is alive (checked by its start time): its pid, the group's id, cannot have
 * been handed out again then. Returns whether it signalled.
 */
export function killLiveGroup(leader: ProcessIdentity, host: KillHost = machine): boolean {
  return isSameProcess(leader, host) && host.send(-leader.pid, 'SIGKILL');
}

/**
 * SIGKILL what is left of the process group `leader` led, after the leader
 * exited and was reaped (its pid, the group's id, may be handed out again
 * once the group is empty). The group is signalled only if a live member
 * is in it that is not a process with the leader's pid (a new leader of a
 * new group of that id) and started no earlier than the leader: then the
 * group is not empty, so its id cannot have been reused. Returns whether it
 * signalled. Without /proc it does nothing: nothing could be checked.
 */
export function killGroup(leader: ProcessIdentity, host: KillHost = machine): boolean {
  const pgid = leader.pid;
  // Cheap first: signal 0 only asks whether anyone is in a group of that id.
  if (!host.proc.available || !host.send(-pgid, 0)) return false;
  // The pid itself must be free, or still the leader's zombie (not reaped after all).
  const holder = host.proc.stat(pgid);
  if (holder !== undefined && holder.start !== leader.start) return false;
  const member = host.proc.pids().some((pid) => {
    if (pid === pgid) return false;
    const stat = host.proc.stat(pid);
    return (
      stat !== undefined && stat.pgid === pgid && stat.state !== 'Z' && stat.start >= leader.start
    );
  });
  return member && host.send(-pgid, 'SIGKILL');
}

let psAvailable: boolean | undefined;

function hasPs(): boolean {
  psAvailable ??= (process.env.PATH ?? '').split(delimiter).some((dir) => {
    if (dir === '') return false;
    try {
      accessSync(join(dir, 'ps'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  return psAvailable;
}

/**
 * Without /proc: stop the root, let tree-kill walk the tree with `ps` and
 * kill it, then the root and its group. The root is a live child the caller
 * holds; tree-kill's pids cannot be checked (see docs/signals.md).
 */
function treeKillFallback(pid: number, group: boolean, host: KillHost): number {
  const finish = (): void => {
    if (group) host.send(-pid, 'SIGKILL');
    host.send(pid, 'SIGKILL');
  };
  if (pid !== process.pid) host.send(pid, 'SIGSTOP');
  // `ps` reads /proc: another namespace's one names other processes.
  if (foreignProc || !hasPs()) {
    finish();
    return 0;
  }
  try {
    const require = createRequire(import.meta.url);
    const treeKill = require('tree-kill') as (
      pid: number,
      sig: string,
      cb: (err?: Error) => void,
    ) => void;
    treeKill(pid, 'SIGKILL', finish);
  } catch {
    finish();
  }
  return 0;
}

/** Every descendant of `root` (not `root` itself), from /proc. Linux only. For sampling, not for signals. */
export function descendants(root: number, reader: ProcReader = proc): number[] {
  const out: number[] = [];
  const stack = reader.children(root);
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...reader.children(pid));
  }
  return out;
}
