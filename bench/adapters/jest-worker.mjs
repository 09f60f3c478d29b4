// jest-worker 30 in child-process mode (enableWorkerThreads: false). No timeout.
import { createRequire } from 'node:module';
import { Worker } from 'jest-worker';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../workers/jest-worker-worker.cjs', import.meta.url));

export async function create({ workers = 2 } = {}) {
  const worker = new Worker(script, {
    numWorkers: workers,
    enableWorkerThreads: false,
    exposedMethods: Object.keys(createRequire(import.meta.url)('../workers/fns.cjs')),
  });
  return {
    timeoutSupport: null,
    call: (f, a) => worker[f](a),
    close: () => worker.end(),
  };
}
