/**
 * Child side, on a thread of its own: kills the worker and everything it
 * started when the pool's process dies, even while the worker's main thread
 * is stuck in a synchronous loop or native code and cannot see its IPC
 * channel close. Polls the parent pid every 100 ms.
 */
import { workerData } from 'node:worker_threads';
import { killTree, readPpid } from '../shared/kill.js';

const { parentPid } = workerData as { parentPid: number };
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
  if (parentGone()) killTree(process.pid);
}, INTERVAL_MS);
