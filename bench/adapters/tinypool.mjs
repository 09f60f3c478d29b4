// tinypool 2 with runtime 'child_process'. No timeout option: a per-task
// AbortSignal.timeout(ms) is the nearest thing (it terminates the worker).
import Tinypool from 'tinypool';

const filename = new URL('../workers/tinypool-worker.cjs', import.meta.url).href;

export async function create({ workers = 2 } = {}) {
  const pool = new Tinypool({
    filename,
    runtime: 'child_process',
    minThreads: workers,
    maxThreads: workers,
    serialization: 'advanced',
    // tinypool gives its workers an empty environment unless told otherwise:
    // the fault matrix finds what a cell left behind by FAULT_TAG, so pass it on.
    ...(process.env.FAULT_TAG && { env: { FAULT_TAG: process.env.FAULT_TAG } }),
  });
  return {
    timeoutSupport: 'signal',
    call(f, a, options = {}) {
      const signal =
        options.timeout === undefined ? undefined : AbortSignal.timeout(options.timeout);
      return pool.run(a, signal ? { name: f, signal } : { name: f });
    },
    close: () => pool.destroy(),
  };
}
