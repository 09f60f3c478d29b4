/**
 * A job: one submitted task (or one batch of `map` items) on its way through
 * the backlog to a worker, and the small helpers that describe it.
 */
import { CancelledError } from '../shared/errors.js';
import type { TaskSpec } from '../shared/protocol.js';
import type { Queued } from './backlog.js';
import type { Future } from './future.js';
import type { JobOptions } from './submit-options.js';
import type { TaskTraceContext } from './tracing.js';
import type { TaskStream } from './stream.js';
import type { Worker } from './worker.js';

export interface Job extends Queued {
  readonly id: number;
  readonly spec: TaskSpec;
  readonly args: unknown[];
  /** How many tasks it stands for: 1, or the items of a batch. */
  readonly size: number;
  readonly batch: boolean;
  readonly options: JobOptions;
  future: Future<unknown>;
  readonly submittedAt: number;
  /** The worker it was handed to, while it is there. */
  worker: Worker | undefined;
  startedAt: number;
  /** Owned by deadlines.ts. */
  timer: NodeJS.Timeout | undefined;
  /** Owned by deadlines.ts. */
  softTimer: NodeJS.Timeout | undefined;
  /** Owned by deadlines.ts: a closed stream's task must end by then. */
  stopTimer: NodeJS.Timeout | undefined;
  /** For `pool.stream`: where its values go. */
  stream: TaskStream<unknown> | undefined;
  /**
   * How it holds its worker: a p-queue slot (`release` frees it), or
   * straight (`direct`); owned by dispatch.ts.
   */
  slot: 'queue' | 'direct' | undefined;
  /** Frees the job's p-queue slot; owned by dispatch.ts. */
  release: (() => void) | undefined;
  unlisten: (() => void) | undefined;
  /** False while the worker has not confirmed it started the task. */
  acked: boolean;
  /** Put back once already because its worker died before starting it. */
  requeued: boolean;
  /** Sent to a busy worker to wait there; counts as launched only when it starts. */
  pipelined: boolean;
  /** Its place among tasks of the same priority: its id, kept when it is put back. */
  readonly seq: number;
  /** Its tracing context, when someone subscribed at submit; owned by tracing.ts. */
  trace: TaskTraceContext | undefined;
}

export function createJob(
  id: number,
  spec: TaskSpec,
  args: unknown[],
  options: JobOptions,
  batch: boolean,
): Job {
  return {
    id,
    spec,
    args,
    size: batch ? args.length : 1,
    batch,
    options,
    priority: options.priority,
    future: undefined as unknown as Future<unknown>, // set by the engine right after
    submittedAt: performance.now(),
    worker: undefined,
    startedAt: 0,
    timer: undefined,
    softTimer: undefined,
    stopTimer: undefined,
    stream: undefined,
    release: undefined,
    slot: undefined,
    unlisten: undefined,
    entry: undefined,
    acked: false,
    requeued: false,
    pipelined: false,
    seq: id,
    trace: undefined,
  };
}

/** The task's module has not been imported by `worker` yet. */
export function needsImport(job: Job, worker: Worker): boolean {
  return job.spec.kind === 'module' && !worker.loaded.has(job.spec.module);
}

export function label(job: Job): string {
  return job.options.name ? `${job.id} (${job.options.name})` : String(job.id);
}

export function cancelledBySignal(job: Job, signal: AbortSignal): CancelledError {
  return new CancelledError(`task ${label(job)} was cancelled by its signal`, {
    cause: signal.reason,
  });
}
