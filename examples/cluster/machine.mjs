// One machine of the example: `node machine.mjs <name> <redis port>`.
// A createQueueWorker with a pool of 2; SIGTERM closes it (drain, hand back,
// pool shut down).
import { createQueueWorker } from 'deadpool/bullmq';
import { render, stuck } from './tasks.mjs';

const [name, port] = process.argv.slice(2);
process.env.MACHINE = name;
const machine = await createQueueWorker({
  queue: 'frames',
  connection: { host: '127.0.0.1', port: Number(port) },
  tasks: [render, stuck],
  pool: { maxWorkers: 2 },
  drainTimeout: 5_000,
  // Short locks, so a dead machine's jobs come back within ~2 s (BullMQ's defaults: 30 s).
  workerOptions: { lockDuration: 2_000, stalledInterval: 500 },
});
machine.worker.on('active', (job) => console.log(`  [${name}] took job ${job.name} ${job.id}`));
console.log(`  [${name}] ready, pid ${process.pid}`);
process.once('SIGTERM', () => machine.close().then(() => process.exit(0)));
