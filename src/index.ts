export { Deadpool } from './deadpool.js';
export type {
  DeadpoolEvents,
  MapOptions,
  ShutdownOptions,
  SubmitArgs,
  TaskTimeoutInfo,
  WorkerExitInfo,
} from './deadpool.js';
export type { DeadpoolOptions, SubmitOptions } from './options.js';
export { Future } from './future.js';
export { defineTask, task } from './task.js';
export type { Task, TaskFunction, TaskHandle, TaskRef } from './task.js';
export { taskSignal } from './task-signal.js';
export { asCompleted, wait } from './wait.js';
export type { ReturnWhen, WaitResult } from './wait.js';
export type { DeadpoolStatistics, ExitReason, Percentiles } from './stats.js';
export {
  BacklogFullError,
  CancelledError,
  DeadpoolError,
  MemoryLimitError,
  PoolClosedError,
  ProcessError,
  SerializationError,
  TimeoutError,
  WorkerStartError,
} from './errors.js';
export type { DeadpoolErrorCode, ProcessErrorDetails } from './errors.js';
