// One machine of the cluster benchmark, as its own process:
//   node machine.mjs '{"engine":"deadpool"|"sandbox","port":N,"queue":"q","concurrency":2,...}'
// Prints "ready" once it takes jobs; SIGTERM closes it and exits.
import { Worker } from 'bullmq';
import { fileURLToPath } from 'node:url';
import { createQueueWorker } from 'deadpool/bullmq';
import { work } from './tasks.mjs';

const config = JSON.parse(process.argv[2]);
const connection = { host: '127.0.0.1', port: config.port };
const workerOptions = {
  ...(config.lockDuration ? { lockDuration: config.lockDuration } : {}),
  ...(config.stalledInterval ? { stalledInterval: config.stalledInterval } : {}),
  ...(config.name ? { name: config.name } : {}),
};
let close;
if (config.engine === 'deadpool') {
  const machine = await createQueueWorker({
    queue: config.queue,
    connection,
    tasks: [work],
    pool: { maxWorkers: config.concurrency },
    drainTimeout: 1_000,
    workerOptions,
  });
  close = () => machine.close();
} else {
  const processor = fileURLToPath(new URL('./processor.mjs', import.meta.url));
  const worker = new Worker(config.queue, processor, {
    connection,
    concurrency: config.concurrency,
    ...workerOptions,
  });
  await worker.waitUntilReady();
  close = () => worker.close();
}
console.log('ready');
process.once('SIGTERM', () => close().then(() => process.exit(0)));
