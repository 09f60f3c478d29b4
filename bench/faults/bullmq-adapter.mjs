// BullMQ's sandboxed processor (a processor file run in a child process that
// BullMQ forks and reuses), as a fault-matrix row: call(f, a) adds a job and
// waits for it to finish. Redis: the matrix's own server, on
// 127.0.0.1:$FAULT_REDIS_PORT. BullMQ has no per-job timeout: `n/a`.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents, Worker } from 'bullmq';

const processor = fileURLToPath(new URL('./bullmq-processor.cjs', import.meta.url));

export async function create({ workers = 2 } = {}) {
  const connection = { host: '127.0.0.1', port: Number(process.env.FAULT_REDIS_PORT) };
  const name = `faults-${randomUUID()}`;
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  const worker = new Worker(name, processor, {
    connection,
    concurrency: workers,
    useWorkerThreads: false,
  });
  worker.on('error', () => {});
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);
  return {
    timeoutSupport: null,
    async call(f, a) {
      const job = await queue.add(f, { f, a }, { attempts: 1 });
      return job.waitUntilFinished(events);
    },
    async close() {
      await worker.close();
      await events.close();
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
    },
  };
}
