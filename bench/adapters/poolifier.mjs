// poolifier 5 FixedClusterPool (cluster workers are child processes). No
// per-task timeout that can stop a synchronous loop.
import { FixedClusterPool } from 'poolifier';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../workers/poolifier-worker.cjs', import.meta.url));

export async function create({ workers = 2 } = {}) {
  const pool = new FixedClusterPool(workers, script, {
    settings: { serialization: 'advanced' },
    errorHandler: () => {},
  });
  if (!pool.info.ready) await new Promise((resolve) => pool.emitter.once('ready', resolve));
  return {
    timeoutSupport: null,
    call: (f, a) => pool.execute(a, f),
    close: () => pool.destroy(),
  };
}
