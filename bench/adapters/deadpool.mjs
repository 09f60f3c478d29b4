// deadpool, built (npm run build) and imported from dist/.
import { Deadpool } from '../../dist/index.js';
import * as tasks from '../tasks.mjs';

export async function create({ workers = 2 } = {}) {
  const pool = new Deadpool({ maxWorkers: workers, minWorkers: workers });
  await pool.ready();
  return {
    pool,
    tasks,
    timeoutSupport: 'task',
    call(f, a, options = {}) {
      return pool.submit(
        tasks[f],
        [a],
        options.timeout === undefined ? undefined : { timeout: options.timeout },
      );
    },
    onWorkerStart(cb) {
      pool.on('workerStart', (event) => cb(event.pid));
    },
    close: () => pool.shutdown(),
  };
}
