/**
 * Child side, on a thread of its own, only where the pool has no sentinel
 * (src/parent/containment/sentinel.ts, e.g. no /bin/sh): kills the worker
 * and everything it started when the pool's process dies, even while the worker's main thread
 * is stuck in a synchronous loop or native code and cannot see its IPC
 * channel close. Polls the parent pid every 100 ms; under kernel containment
 * it kills the worker's cgroup, so daemons the worker started go too.
 */
import { workerData } from 'node:worker_threads';
import { killTree, readPpid } from '../shared/kill.js';
import { killOwnCgroup } from './cgroup.js';

const { parentPid, cgroupKill } = workerData as { parentPid: number; cgroupKill?: string };
const INTERVAL_MS = 100;

function parentGone(): boolean {
  const ppid = readPpid('self');
  if (ppid !== undefined) return ppid !== parentPid;
  try {
    process.kill(parentPid, 0);
    return false;
  } catch {
    return true;
  }
}

setInterval(() => {
  // Its cgroup as one (daemons included), else its tree from /proc.
  if (parentGone() && !killOwnCgroup(cgroupKill)) killTree(process.pid);
}, INTERVAL_MS);
