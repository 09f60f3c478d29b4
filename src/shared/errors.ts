/**
 * The pool's own errors. `instanceof DeadpoolError` means the pool failed the
 * task; anything else a future rejects with is the task's own error, rebuilt.
 * Match on `code`: it is stable across versions.
 */

export type DeadpoolErrorCode =
  | 'ERR_DEADPOOL_TIMEOUT'
  | 'ERR_DEADPOOL_PROCESS'
  | 'ERR_DEADPOOL_MEMORY_LIMIT'
  | 'ERR_DEADPOOL_CANCELLED'
  | 'ERR_DEADPOOL_CLOSED'
  | 'ERR_DEADPOOL_BACKLOG_FULL'
  | 'ERR_DEADPOOL_SERIALIZATION'
  | 'ERR_DEADPOOL_WORKER_START'
  | 'ERR_DEADPOOL_CONTAINMENT'
  | 'ERR_DEADPOOL_NESTED';

export class DeadpoolError extends Error {
  declare readonly code: DeadpoolErrorCode;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Defines `name` and `code` on the prototype, as Node's own errors do. */
function brand(
  ctor: { prototype: object },
  name: string,
  code: DeadpoolErrorCode | undefined,
): void {
  Object.defineProperty(ctor.prototype, 'name', {
    value: name,
    configurable: true,
    writable: true,
  });
  if (code !== undefined) {
    Object.defineProperty(ctor.prototype, 'code', {
      value: code,
      configurable: true,
      writable: true,
    });
  }
}

/**
 * A task waited past its `queueTimeout` (`phase: 'queue'`; it never ran) or ran
 * past its `timeout` (`phase: 'run'`), or `result(ms)` / `exception(ms)` waited
 * too long (no phase).
 */
export class TimeoutError extends DeadpoolError {
  readonly phase: 'queue' | 'run' | undefined;
  constructor(message: string, options?: ErrorOptions & { phase?: 'queue' | 'run' }) {
    super(message, options);
    this.phase = options?.phase;
  }
}

export interface ProcessErrorDetails {
  pid: number | undefined;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The task's `name` option, when it had one. */
  taskName?: string | undefined;
  /** The last lines the worker wrote to stderr. */
  stderr?: string | undefined;
}

/** The worker process died while it ran the task. */
export class ProcessError extends DeadpoolError {
  readonly pid: number | undefined;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly taskName: string | undefined;
  readonly stderr: string | undefined;
  constructor(message: string, details: ProcessErrorDetails, options?: ErrorOptions) {
    super(message, options);
    this.pid = details.pid;
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.taskName = details.taskName;
    this.stderr = details.stderr;
  }
}

/** The worker's process tree passed `memoryLimitBytes` and was killed. */
export class MemoryLimitError extends ProcessError {
  /** Resident set size of the worker's process tree when it was killed, in bytes. */
  readonly rss: number;
  constructor(message: string, details: ProcessErrorDetails & { rss: number }) {
    super(message, details);
    this.rss = details.rss;
  }
}

/** Cancelled by `cancel()`, `cancelAndKill()`, an aborted signal, or shutdown. */
export class CancelledError extends DeadpoolError {}

/** `submit` after `shutdown` began. */
export class PoolClosedError extends DeadpoolError {}

/** `submit` while `maxBacklog` tasks are already waiting. */
export class BacklogFullError extends DeadpoolError {}

/** Arguments or a result that cannot cross the process boundary. */
export class SerializationError extends DeadpoolError {}

/** Workers keep failing to start; `cause` is the last failure. */
export class WorkerStartError extends DeadpoolError {}

/**
 * The constructor asked for kernel containment (`containment: 'kernel'`, or
 * `maxTaskProcesses`) on a host that does not allow it; the message says
 * what is missing and how to enable it.
 */
export class ContainmentError extends DeadpoolError {}

/**
 * A pool was created while a worker imported a task module (or in a worker's
 * preload): its workers would import that module and create pools without end.
 */
export class NestedPoolError extends DeadpoolError {}

brand(DeadpoolError, 'DeadpoolError', undefined);
brand(ContainmentError, 'ContainmentError', 'ERR_DEADPOOL_CONTAINMENT');
brand(TimeoutError, 'TimeoutError', 'ERR_DEADPOOL_TIMEOUT');
brand(ProcessError, 'ProcessError', 'ERR_DEADPOOL_PROCESS');
brand(MemoryLimitError, 'MemoryLimitError', 'ERR_DEADPOOL_MEMORY_LIMIT');
brand(CancelledError, 'CancelledError', 'ERR_DEADPOOL_CANCELLED');
brand(PoolClosedError, 'PoolClosedError', 'ERR_DEADPOOL_CLOSED');
brand(BacklogFullError, 'BacklogFullError', 'ERR_DEADPOOL_BACKLOG_FULL');
brand(SerializationError, 'SerializationError', 'ERR_DEADPOOL_SERIALIZATION');
brand(WorkerStartError, 'WorkerStartError', 'ERR_DEADPOOL_WORKER_START');
brand(NestedPoolError, 'NestedPoolError', 'ERR_DEADPOOL_NESTED');

const noProcess: ProcessErrorDetails = { pid: undefined, exitCode: null, signal: null };

/**
 * Every error class of the pool's own, by name, with how to make one from a
 * message alone: the one list, for errors that cross as text (the BullMQ
 * adapter's failed jobs).
 */
export const POOL_ERRORS_BY_NAME: Readonly<Record<string, (message: string) => DeadpoolError>> = {
  DeadpoolError: (m) => new DeadpoolError(m),
  TimeoutError: (m) => new TimeoutError(m),
  ProcessError: (m) => new ProcessError(m, noProcess),
  MemoryLimitError: (m) => new MemoryLimitError(m, { ...noProcess, rss: Number.NaN }),
  CancelledError: (m) => new CancelledError(m),
  PoolClosedError: (m) => new PoolClosedError(m),
  BacklogFullError: (m) => new BacklogFullError(m),
  SerializationError: (m) => new SerializationError(m),
  WorkerStartError: (m) => new WorkerStartError(m),
  ContainmentError: (m) => new ContainmentError(m),
  NestedPoolError: (m) => new NestedPoolError(m),
};
