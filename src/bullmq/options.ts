/**
 * The options of `createQueueWorker`, `DeadpoolQueue` and its `submit`, their
 * validation (the core's validate.ts, so one message template), and the job data the two
 * sides share: `{ args, timeout? }`, never a module or a path.
 */
import type {
  BackoffOptions,
  ConnectionOptions,
  DefaultJobOptions,
  Job,
  JobsOptions,
  WorkerOptions,
} from 'bullmq';
import { availableParallelism } from 'node:os';
import type { Deadpool, DeadpoolOptions, TaskRef } from '../index.js';
import {
  callback,
  duration,
  integerIn,
  invalid,
  objectOrUndefined,
  optionsOf,
} from '../parent/validate.js';
import { TASK } from '../shared/task.js';

export interface QueueWorkerOptions {
  /** The BullMQ queue's name. */
  queue: string;
  /** Redis connection: ioredis options, or a client whose `maxRetriesPerRequest` is null. */
  connection: ConnectionOptions;
  /** The `defineTask` handles this machine may run; a job names one by its export name. */
  tasks: readonly TaskRef[];
  /** A Deadpool, or the options of the one to create. @default new Deadpool() */
  pool?: Deadpool | DeadpoolOptions;
  /** Jobs run at once on this machine. @default the pool's `maxWorkers` */
  concurrency?: number;
  /** Whether a failed attempt may be retried (per the job's `attempts`); false fails the job. @default () => true */
  retryOn?: (error: unknown, job: Job) => boolean;
  /** Milliseconds `close()` waits for running jobs before handing them back to the queue. @default 30_000 */
  drainTimeout?: number;
  /** Least milliseconds between two progress writes of one job to Redis; the latest value always goes. @default 100 */
  progressInterval?: number;
  /** Passed to BullMQ's `Worker` (e.g. `lockDuration`, `stalledInterval`, `prefix`). */
  workerOptions?: Omit<WorkerOptions, 'connection' | 'concurrency' | 'autorun'>;
}

export interface DeadpoolQueueOptions {
  /** Redis connection: ioredis options, or a client. */
  connection: ConnectionOptions;
  /** BullMQ's defaults for every job of this queue (`attempts`, `backoff`, `removeOnComplete`...). */
  defaultJobOptions?: DefaultJobOptions;
  /** BullMQ's key prefix; must match the workers'. @default 'bull' */
  prefix?: string;
}

export interface QueueSubmitOptions {
  /** Milliseconds of execution before the job's process tree is SIGKILLed on the machine running it. */
  timeout?: number;
  /** Integer from 0 (first, the default) to 2^21 - 2; ties run in submission order. */
  priority?: number;
  /** Attempts in all, retries included. @default 1 (or `defaultJobOptions.attempts`) */
  attempts?: number;
  /** BullMQ back-off between attempts: milliseconds, or `{ type, delay }`. */
  backoff?: number | BackoffOptions;
  /** The job's id; one is made when left out. Must not be a bare integer nor contain ':'. */
  jobId?: string;
  /** Milliseconds to wait before the job may run. */
  delay?: number;
  /** Aborting it cancels the job, as `future.cancel(signal.reason)`. */
  signal?: AbortSignal;
  /** Receives each progress value the job reports, as `future.addProgressCallback`. */
  onProgress?: (value: unknown) => void;
}

/**
 * The keys each call accepts (the compiler insists every documented key is
 * listed): any other is refused, as the core refuses them, so a typo such as
 * `timeOut` never adds a job without its timeout.
 */
const WORKER_KEYS = Object.keys({
  queue: true,
  connection: true,
  tasks: true,
  pool: true,
  concurrency: true,
  retryOn: true,
  drainTimeout: true,
  progressInterval: true,
  workerOptions: true,
} as const satisfies Record<keyof QueueWorkerOptions, true>);

const QUEUE_KEYS = Object.keys({
  connection: true,
  defaultJobOptions: true,
  prefix: true,
} as const satisfies Record<keyof DeadpoolQueueOptions, true>);

const SUBMIT_KEYS = Object.keys({
  timeout: true,
  priority: true,
  attempts: true,
  backoff: true,
  jobId: true,
  delay: true,
  signal: true,
  onProgress: true,
} as const satisfies Record<keyof QueueSubmitOptions, true>);

/** What a job carries in Redis. */
export interface JobData {
  args: unknown[];
  timeout?: number;
}

/** The highest BullMQ priority, 2^21 - 1; deadpool's priority is one less. */
export const MAX_BULLMQ_PRIORITY = 2 ** 21 - 1;

/** The export name of a `defineTask` handle; anything else is refused. */
export function taskName(task: unknown, what: string): string {
  const spec = typeof task === 'function' ? (task as Partial<TaskRef>)[TASK] : undefined;
  if (spec === undefined || spec.defined !== true) {
    invalid(what, 'a defineTask() handle', task);
  }
  return spec.exportName;
}

/** The registry of a machine: export name → handle. Two tasks may not share a name. */
export function taskRegistry(tasks: unknown): Map<string, TaskRef> {
  if (!Array.isArray(tasks)) invalid('tasks', 'an array of defineTask() handles', tasks);
  const registry = new Map<string, TaskRef>();
  for (const [i, task] of (tasks as unknown[]).entries()) {
    const name = taskName(task, `tasks[${i}]`);
    const known = registry.get(name);
    if (known !== undefined && known !== task) {
      throw new TypeError(
        `Expected \`tasks\` to have distinct names, got two tasks named \`${name}\``,
      );
    }
    registry.set(name, task as TaskRef);
  }
  return registry;
}

export interface WorkerSettings {
  concurrency: number;
  drainTimeout: number;
  retryOn: (error: unknown, job: Job) => boolean;
  progressInterval: number;
}

/** A pool's `maxWorkers`: a Deadpool's (`pool.maxWorkers`), or its options'; else the default. */
function maxWorkersOf(pool: Deadpool | DeadpoolOptions | undefined): number {
  const value = (pool as { maxWorkers?: unknown } | undefined)?.maxWorkers;
  return typeof value === 'number' && Number.isInteger(value) && value > 0
    ? value
    : availableParallelism();
}

export function normalizeWorkerOptions(options: QueueWorkerOptions): WorkerSettings {
  optionsOf('createQueueWorker()', 'options', options, WORKER_KEYS, false);
  checkConnection(options.connection);
  checkQueueName(options.queue);
  objectOrUndefined('workerOptions', options.workerOptions);
  const retryOn = callback('retryOn', options.retryOn);
  return {
    concurrency: integerIn('concurrency', options.concurrency, 1) ?? maxWorkersOf(options.pool),
    drainTimeout: duration('drainTimeout', options.drainTimeout) ?? 30_000,
    retryOn: retryOn ?? (() => true),
    progressInterval: duration('progressInterval', options.progressInterval) ?? 100,
  };
}

/** The options of `new DeadpoolQueue()`: an object of its documented keys, with a connection. */
export function checkQueueOptions(options: unknown): asserts options is DeadpoolQueueOptions {
  optionsOf('new DeadpoolQueue()', 'options', options, QUEUE_KEYS, false);
  checkConnection((options as DeadpoolQueueOptions).connection);
}

function checkConnection(connection: unknown): void {
  if (connection == null) invalid('connection', 'Redis connection options or a client', connection);
}

export function checkQueueName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '' || name.includes(':')) {
    invalid('queue', "a non-empty string without ':'", name);
  }
}

/** BullMQ's options and the job data for one submit. */
export function jobOf(
  args: unknown,
  options: QueueSubmitOptions | undefined,
): {
  data: JobData;
  opts: JobsOptions;
  signal: AbortSignal | undefined;
  onProgress: ((value: unknown) => void) | undefined;
} {
  if (!Array.isArray(args)) invalid('args', 'an array of arguments', args);
  optionsOf('DeadpoolQueue#submit()', 'options', options, SUBMIT_KEYS);
  const o = options ?? {};
  const timeout = duration('timeout', o.timeout);
  const priority = integerIn('priority', o.priority, 0, MAX_BULLMQ_PRIORITY - 1) ?? 0;
  const attempts = integerIn('attempts', o.attempts, 1);
  const delay = integerIn('delay', o.delay, 0);
  if (
    o.jobId !== undefined &&
    (typeof o.jobId !== 'string' ||
      o.jobId === '' ||
      o.jobId.includes(':') ||
      /^\d+$/.test(o.jobId))
  ) {
    invalid('jobId', "a non-empty string without ':' that is not an integer", o.jobId);
  }
  if (
    o.backoff !== undefined &&
    typeof o.backoff !== 'number' &&
    (typeof o.backoff !== 'object' || o.backoff === null)
  ) {
    invalid('backoff', 'a number of milliseconds or a BullMQ BackoffOptions object', o.backoff);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal))
    invalid('signal', 'an AbortSignal', o.signal);
  const data: JobData = timeout === undefined ? { args } : { args, timeout };
  const opts: JobsOptions = { priority: priority + 1 };
  if (attempts !== undefined) opts.attempts = attempts;
  if (delay !== undefined) opts.delay = delay;
  if (o.backoff !== undefined) opts.backoff = o.backoff;
  if (o.jobId !== undefined) opts.jobId = o.jobId;
  const onProgress = callback('onProgress', o.onProgress);
  return { data, opts, signal: o.signal, onProgress };
}

/** The job data a machine accepts: anything else fails the job without retries. */
export function readJobData(data: unknown): JobData | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { args, timeout } = data as Partial<JobData>;
  if (!Array.isArray(args)) return undefined;
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0))) return undefined;
  return timeout === undefined ? { args } : { args, timeout };
}
