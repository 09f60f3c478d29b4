/**
 * createQueueWorker: one machine. A BullMQ Worker takes jobs from Redis as
 * the pool has room (`concurrency`), a JobRunner runs each in the pool, and a
 * listener on the control stream hears cancels. `close()` winds down in the
 * order docs/bullmq.md gives under "Shutdown order": stop taking jobs, drain,
 * hand back what is left, close Redis, shut the pool down.
 */
import { Worker, type WorkerOptions } from 'bullmq';
import { Deadpool, type DeadpoolOptions } from '../index.js';
import { listenForCancels, type StreamOptions } from './control.js';
import { JobRunner, REMEMBER_CANCEL_MS } from './job-runner.js';
import { normalizeWorkerOptions, taskRegistry, type QueueWorkerOptions } from './options.js';

export interface QueueWorker {
  /** The BullMQ Worker, for its events ('completed', 'failed', 'stalled', 'error'...). */
  readonly worker: Worker;
  /** The pool the jobs run in. */
  readonly pool: Deadpool;
  /**
   * Stop taking jobs, wait up to `drainTimeout` for the running ones, kill the
   * rest and put them back in the queue without spending an attempt, close the
   * Redis connections, then shut the pool down. Idempotent.
   */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Start a machine: resolves once its pool is ready and its Worker takes jobs. */
export async function createQueueWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const settings = normalizeWorkerOptions(options);
  const registry = taskRegistry(options.tasks);
  const given = options.pool instanceof Deadpool ? options.pool : undefined;
  const pool = given ?? new Deadpool(options.pool as DeadpoolOptions | undefined);
  const runner = new JobRunner({
    queue: options.queue,
    pool,
    registry,
    retryOn: settings.retryOn,
    progressInterval: settings.progressInterval,
  });
  const workerOptions: WorkerOptions = {
    ...options.workerOptions,
    connection: options.connection,
    concurrency: settings.concurrency,
    autorun: false,
  };
  const worker = new Worker(options.queue, runner.process, workerOptions);
  const stream: StreamOptions = { connection: options.connection };
  if (workerOptions.prefix !== undefined) stream.prefix = workerOptions.prefix;
  const cancels = listenForCancels(options.queue, stream, REMEMBER_CANCEL_MS, ({ jobId, reason }) =>
    runner.cancel(jobId, reason),
  );
  cancels.on('error', (error) => worker.emit('error', error));

  try {
    await Promise.all([pool.ready(), worker.waitUntilReady(), cancels.waitUntilReady()]);
  } catch (error) {
    await Promise.allSettled([worker.close(true), cancels.close()]);
    if (!given) await pool.shutdown({ wait: false, cancelFutures: true });
    throw error;
  }
  worker.run().catch((error: unknown) => {
    worker.emit('error', error instanceof Error ? error : new Error(String(error)));
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      // Stops fetching at once; resolves when no processor runs any more.
      const stopped = worker.close();
      await runner.drain(settings.drainTimeout);
      await stopped;
      await cancels.close();
      await pool.shutdown();
    })());
  return { worker, pool, close, [Symbol.asyncDispose]: close };
}
