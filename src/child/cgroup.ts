/**
 * Child side of kernel containment. The pool has moved the worker into its
 * cgroups before its first message (WorkerCgroup.enter). With
 * `maxTaskProcesses` the worker sets its process limit once its own
 * threads are all up. The kernel's pids.max counts threads: the limit is the
 * worker's own threads plus `maxTaskProcesses - 1`, so the worker and what it
 * starts are never more than `maxTaskProcesses` processes.
 */
import { readFileSync, stat, writeFileSync } from 'node:fs';
import { readPpid } from '../shared/kill.js';
import type { CgroupBoot } from '../shared/protocol.js';

function ownThreads(): number {
  const status = readFileSync('/proc/self/status', 'latin1');
  return Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1);
}

/**
 * Write pids.max. Call once the watchdog thread, if any, is up; the libuv thread pool
 * is started here first (it starts all its threads at its first job), so no
 * thread of the worker's own is refused later.
 */
export async function limitProcesses(cgroup: CgroupBoot | undefined): Promise<void> {
  if (cgroup?.pidsMax === undefined || cgroup.processes === undefined) return;
  // A callback, not node:fs/promises, which would load readline and more at every worker's start.
  await new Promise<void>((resolve) => stat('/', () => resolve()));
  writeFileSync(cgroup.pidsMax, String(ownThreads() + cgroup.processes - 1));
}

/** How long, after its channel closed, the worker looks for its parent's death before it just exits. */
const PARENT_DEATH_GRACE_MS = 50;

/**
 * The channel closed: the pool's process died (the kernel reparents the
 * worker just after closing the channel), or the task closed it. Under
 * kernel containment a dead parent means the whole cgroup goes, daemons
 * included; otherwise, or when the parent lives on, `exit()`.
 */
export function whenDisconnected(
  cgroup: CgroupBoot | undefined,
  parentPid: number,
  exit: () => void,
): void {
  if (!cgroup) return exit();
  const since = Date.now();
  const look = (): void => {
    if (readPpid('self') !== parentPid && killOwnCgroup(cgroup.kill)) return;
    if (Date.now() - since >= PARENT_DEATH_GRACE_MS) return exit();
    setTimeout(look, 5);
  };
  look();
}

/** The last act of a worker whose pool is gone (or of its watchdog): SIGKILL everything in its cgroup, itself included. */
export function killOwnCgroup(kill: string | undefined): boolean {
  if (kill === undefined) return false;
  try {
    writeFileSync(kill, '1');
    return true;
  } catch {
    return false;
  }
}
