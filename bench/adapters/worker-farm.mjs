// worker-farm 1.7. Timeout is pool-wide (maxCallTime), so the timeout scenario
// builds its farm with maxCallTime = the task timeout.
import workerFarm from 'worker-farm';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../workers/worker-farm-worker.cjs', import.meta.url));

export async function create({ workers = 2, timeout } = {}) {
  const farm = workerFarm(
    {
      maxConcurrentWorkers: workers,
      maxCallTime: timeout ?? Infinity,
      workerOptions: { serialization: 'advanced' },
      autoStart: true,
    },
    script,
    ['inc', 'echo', 'spin', 'forever', 'sleep', 'pid'],
  );
  const call = (f, a) =>
    new Promise((resolve, reject) =>
      farm[f](a, (error, r) => (error ? reject(error) : resolve(r))),
    );
  if (timeout !== undefined) {
    // maxCallTime also counts a child's boot: wait until calls get through.
    for (let attempt = 0; attempt < 20; attempt++) {
      const ok = await Promise.all(Array.from({ length: workers }, () => call('pid'))).then(
        () => true,
        () => false,
      );
      if (ok) break;
    }
  }
  return {
    timeoutSupport: 'pool',
    call,
    close: () => new Promise((resolve) => workerFarm.end(farm, () => resolve())),
  };
}
