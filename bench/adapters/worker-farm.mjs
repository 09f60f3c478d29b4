// worker-farm 1.7. Timeout is pool-wide (maxCallTime), so the timeout scenario
// builds its farm with maxCallTime = the task timeout. The fault scenarios ask
// for one call per worker (callsPerWorker: 1) so that a held worker is passed
// over; everything else runs with worker-farm's default of 10.
import workerFarm from 'worker-farm';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../workers/worker-farm-worker.cjs', import.meta.url));

export async function create({ workers = 2, timeout, callsPerWorker } = {}) {
  const farm = workerFarm(
    {
      maxConcurrentWorkers: workers,
      maxCallTime: timeout ?? Infinity,
      ...(callsPerWorker ? { maxConcurrentCallsPerWorker: callsPerWorker } : {}),
      workerOptions: { serialization: 'advanced' },
      autoStart: true,
    },
    script,
    Object.keys(createRequire(import.meta.url)('../workers/fns.cjs')),
  );
  const call = (f, a) =>
    new Promise((resolve, reject) =>
      farm[f](a, (error, r) => (error ? reject(error) : resolve(r))),
    );
  if (timeout !== undefined) {
    // maxCallTime also counts a child's boot: wait until calls get through
    // (bounded: a call re-queued after its child died may never answer).
    for (let attempt = 0; attempt < 20; attempt++) {
      const ok = await Promise.race([
        Promise.all(Array.from({ length: workers }, () => call('pid'))).then(
          () => true,
          () => false,
        ),
        new Promise((resolve) => setTimeout(resolve, 2000, false)),
      ]);
      if (ok) break;
    }
  }
  return {
    timeoutSupport: 'pool',
    call,
    close: () => new Promise((resolve) => workerFarm.end(farm, () => resolve())),
  };
}
