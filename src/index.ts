export { Deadpool } from './parent/deadpool.js';
export type {
  MapOptions,
  ShutdownOptions,
  StreamOptions,
  SubmitArgs,
  TaskResult,
  Yielded,
} from './parent/deadpool.js';
export type { TaskStream } from './parent/stream.js';
export type {
  DeadpoolEvents,
  ExitReason,
  TaskTimeoutInfo,
  WorkerExitInfo,
  WorkerStartInfo,
} from './parent/events.js';
export type { DeadpoolOptions, WorkerOutput } from './parent/options.js';
export type { SubmitOptions } from './parent/submit-options.js';
export type {
  ContainmentInfo,
  ContainmentKind,
  ContainmentLimit,
  ContainmentMode,
} from './parent/containment/probe.js';
export type { TaskUsage } from './parent/containment/usage.js';
export { Future } from './parent/future.js';
export type { ProgressCallback } from './parent/future.js';
export { defineTask, task } from './shared/task.js';
export type { Task, TaskFunction, TaskHandle, TaskRef } from './shared/task.js';
export { taskSignal } from './shared/task-signal.js';
export { reportProgress } from './shared/progress.js';
export { asCompleted, wait } from './parent/wait.js';
export type { ReturnWhen, WaitResult } from './parent/wait.js';
export type { DeadpoolStatistics, Percentiles } from './parent/stats.js';
export type { MetricsOptions } from './parent/metrics.js';
export { mergeMetrics } from './parent/exposition.js';
export type { TaskTraceContext } from './parent/tracing.js';
export {
  BacklogFullError,
  CancelledError,
  ContainmentError,
  DeadpoolError,
  MemoryLimitError,
  NestedPoolError,
  PoolClosedError,
  ProcessError,
  SerializationError,
  TimeoutError,
  WorkerStartError,
} from './shared/errors.js';
export type { DeadpoolErrorCode, ProcessErrorDetails } from './shared/errors.js';
