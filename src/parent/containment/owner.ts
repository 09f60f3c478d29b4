/**
 * Who owns a pool's cgroups: the pid namespace, pid and start time of the
 * process that made them, written into the cgroup's name. A pool whose
 * process was SIGKILLed cannot remove its cgroups (no exit handler runs);
 * the next pool to start removes exactly those whose owner is gone, and
 * never one of a live process, nor one from another pid namespace (whose
 * pids it cannot check).
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { proc } from '../../shared/proc.js';

export interface Owner {
  /** The pid namespace's inode number, as /proc/self/ns/pid names it. */
  readonly ns: string;
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot. */
  readonly start: string;
}

const PREFIX = 'deadpool';
const NAME = /^deadpool-(\d+)-(\d+)-(\d+)-\d+$/;

/** The start time of `pid`, or undefined when there is no such process. */
export function startTimeOf(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function selfOwner(): Owner {
  let ns = '0';
  try {
    ns = /\d+/.exec(readlinkSync('/proc/self/ns/pid'))?.[0] ?? '0';
  } catch {
    // no /proc: names still unique by pid and start time
  }
  return { ns, pid: process.pid, start: startTimeOf('self') ?? '0' };
}

/** The name of this owner's `seq`-th pool cgroup. */
export function poolName(owner: Owner, seq: number): string {
  return `${PREFIX}-${owner.ns}-${owner.pid}-${owner.start}-${seq}`;
}

export function parsePoolName(name: string): Owner | undefined {
  const match = NAME.exec(name);
  if (!match) return undefined;
  return { ns: match[1]!, pid: Number(match[2]), start: match[3]! };
}

/**
 * True when the pool cgroup `name` belongs to a process that is gone: same
 * pid namespace as `self`, and its pid is free or has another start time,
 * read from a /proc that is this namespace's (`procIsOurs`).
 */
export function ownerGone(
  name: string,
  self: Owner,
  startOf: (pid: number) => string | undefined = startTimeOf,
  procIsOurs = proc.available,
): boolean {
  // Where /proc is not this pid namespace's (proc.ts), no owner can be checked.
  if (!procIsOurs) return false;
  const owner = parsePoolName(name);
  if (!owner || owner.ns !== self.ns) return false;
  if (owner.pid === self.pid && owner.start === self.start) return false;
  return startOf(owner.pid) !== owner.start;
}
