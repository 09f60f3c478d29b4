// deadpool, built (npm run build) and imported from dist/: this checkout's,
// or for the deadpool-baseline rows the baseline worktree's (run.mjs sets
// DEADPOOL_BENCH_BASELINE to its directory; bench/tasks.mjs follows it too).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const baseline = process.env.DEADPOOL_BENCH_BASELINE;
const { Deadpool } = await import(
  baseline ? pathToFileURL(join(baseline, 'dist', 'index.js')).href : '../../dist/index.js'
);
const tasks = await import('../tasks.mjs');

export async function create({ workers = 2, execArgv, awaitReady = true } = {}) {
  const pool = new Deadpool({
    maxWorkers: workers,
    minWorkers: workers,
    ...(execArgv ? { execArgv } : {}),
  });
  // Every scenario but `cold` measures a pool whose workers are up.
  if (awaitReady) await pool.ready();
  return {
    pool,
    tasks,
    timeoutSupport: 'task',
    call(f, a, { timeout, priority } = {}) {
      const options =
        timeout === undefined && priority === undefined ? undefined : { timeout, priority };
      return pool.submit(tasks[f], [a], options);
    },
    onWorkerStart(cb) {
      pool.on('workerStart', (event) => cb(event.pid));
    },
    close: () => pool.shutdown(),
    /** The shutdown scenario's call: cancel what waits, kill what runs, resolve once all is gone. */
    closeNow: () => pool.shutdown({ wait: false, cancelFutures: true }),
  };
}
