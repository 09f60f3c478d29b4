/**
 * Tracing through `node:diagnostics_channel`: the `deadpool:task`
 * TracingChannel, one context object per task, and the plain channels
 * `deadpool:worker:start` and `deadpool:worker:exit`. Nothing is built when
 * nobody subscribes: a task submitted then carries no context, and its later
 * events are skipped.
 *
 * The order follows `TracingChannel#tracePromise` (see docs/observability.md,
 * "Tracing"): `start`, `end` when `submit` makes the task; `asyncStart`
 * when it runs on a worker (its `pid` known); at settling, `error` if it
 * failed or was cancelled, then `asyncEnd`. A task that never ran gets its
 * `asyncStart` at settling, after `error`, as a rejected promise does.
 */
import { channel, tracingChannel } from 'node:diagnostics_channel';
import type { Deadpool } from './deadpool.js';
import type { DeadpoolEvents } from './events.js';
import type { Job } from './job.js';

/** The one object every event of a task carries. */
export interface TaskTraceContext {
  /** The task's id in its pool. */
  readonly id: number;
  /** The `name` submit option. */
  readonly name: string | undefined;
  readonly priority: number;
  /** The worker's pid, from `asyncStart` on; undefined for a task that never ran. */
  pid: number | undefined;
  /** The pool the task was submitted to. */
  readonly pool: Deadpool;
  /** For a `map` batch: how many items it carries (`result` then has one `[ok, value]` pair per item). */
  items?: number;
  /** The value, at `asyncEnd` of a task that succeeded. */
  result?: unknown;
  /** The error (also a CancelledError), at `error` and `asyncEnd` of a task that did not. */
  error?: unknown;
}

const task = tracingChannel<unknown, TaskTraceContext>('deadpool:task');
const workerStart = channel('deadpool:worker:start');
const workerExit = channel('deadpool:worker:exit');

/** Each traced job's context, from submit until it settles (a job carries none). */
const contexts = new WeakMap<Job, TaskTraceContext>();

/** `submit` made the job: `start` and `end`, if anyone listens. */
export function traceSubmit(job: Job, pool: Deadpool): void {
  if (!task.hasSubscribers) return;
  const { id, options } = job;
  const context: TaskTraceContext = {
    id,
    name: options.name,
    priority: options.priority,
    pid: undefined,
    pool,
  };
  if (job.batch) context.items = job.size;
  contexts.set(job, context);
  task.start.publish(context);
  task.end.publish(context);
}

/** The job runs on worker `pid`: `asyncStart`. Called before its future learns the pid. */
export function traceRun(job: Job, pid: number): void {
  const context = contexts.get(job);
  if (context === undefined || context.pid !== undefined) return;
  context.pid = pid;
  task.asyncStart.publish(context);
}

/** The job settled: `error` (when not `ok`), `asyncStart` if it never ran, `asyncEnd`. Once. */
export function traceSettle(job: Job, ok: boolean, value: unknown): void {
  const context = contexts.get(job);
  if (context === undefined) return;
  contexts.delete(job);
  if (ok) context.result = value;
  else {
    context.error = value;
    task.error.publish(context);
  }
  if (context.pid === undefined) task.asyncStart.publish(context);
  task.asyncEnd.publish(context);
}

/** Mirror the `workerStart` and `workerExit` events on their channels, with `pool` added. */
export function traceWorker<K extends keyof DeadpoolEvents>(
  pool: Deadpool,
  event: K,
  info: DeadpoolEvents[K][0],
): void {
  if (event === 'workerStart') {
    if (workerStart.hasSubscribers) workerStart.publish({ ...info, pool });
  } else if (event === 'workerExit') {
    if (workerExit.hasSubscribers) workerExit.publish({ ...info, pool });
  }
}
