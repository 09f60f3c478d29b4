/**
 * `deadpool/bullmq`: BullMQ jobs run in deadpool pools on any number of
 * machines. See docs/bullmq.md. Needs the optional peer
 * dependencies `bullmq` and `ioredis`; the core entry never imports them.
 */
export { createQueueWorker } from './queue-worker.js';
export type { QueueWorker } from './queue-worker.js';
export { DeadpoolQueue } from './queue.js';
export type { QueueSubmitArgs } from './queue.js';
export { RemoteFuture } from './remote-future.js';
export type { RemoteProgressCallback } from './remote-future.js';
export type { DeadpoolQueueOptions, QueueSubmitOptions, QueueWorkerOptions } from './options.js';
export { UNKNOWN_TASK } from './errors.js';
