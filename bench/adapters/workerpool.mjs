// workerpool 10 with workerType 'process'. Per-task timeout: promise.timeout(ms),
// which terminates the worker.
import workerpool from 'workerpool';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../workers/workerpool-worker.cjs', import.meta.url));

export async function create({ workers = 2 } = {}) {
  const pool = workerpool.pool(script, {
    workerType: 'process',
    minWorkers: workers,
    maxWorkers: workers,
    forkOpts: { serialization: 'advanced' },
  });
  return {
    timeoutSupport: 'task',
    call(f, a, options = {}) {
      const p = pool.exec(f, [a]);
      return options.timeout === undefined ? p : p.timeout(options.timeout);
    },
    close: () => pool.terminate(),
  };
}
