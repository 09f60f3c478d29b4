/**
 * The messages between the pool and a worker, and how errors cross. The parent
 * (src/parent) and the child (src/child) meet only here; both also use the
 * leaf modules beside this one (errors, kill, task, task-signal).
 */
import {
  CancelledError,
  NestedPoolError,
  SerializationError,
  TimeoutError,
  type DeadpoolError,
} from './errors.js';

/** How a worker finds the code to run. */
export type TaskSpec =
  | {
      readonly kind: 'module';
      readonly module: string;
      readonly exportName: string;
      /** Made by defineTask(): the export must be the task defined under this name. */
      readonly defined?: boolean;
    }
  | { readonly kind: 'source'; readonly source: string };

/** Parent → worker. */
export type ParentMessage =
  | { t: 'init'; spec: TaskSpec | undefined; args: readonly unknown[] }
  /** Tasks, in the order they were taken from the backlog (see RunTask). */
  | { t: 'run'; tasks: RunTask[] }
  /** Take these tasks back if they still wait in the worker; answered by 'dropped'. */
  | { t: 'drop'; ids: number[] }
  /** The consumer of a streamed task took `n` values: it may send `n` more. */
  | { t: 'credit'; id: number; n: number }
  /** The consumer of a streamed task left: end its iterator (its `finally` blocks run). */
  | { t: 'stop'; id: number }
  /** Abort the task's taskSignal(): with `reason` (a cooperative abort), else its soft timeout. */
  | { t: 'abort'; id: number; reason?: WireError }
  | { t: 'finalize'; spec: TaskSpec | undefined; args: readonly unknown[] }
  /** The pool's sentinel is gone for good: start the watchdog thread (once). */
  | { t: 'watchdog' }
  /** Task modules whose tasks returned on the pool's other workers: import them while idle (src/child/warm.ts). */
  | { t: 'warm'; modules: string[] };

/**
 * A task. If another task runs, it waits in the worker, ordered by `priority`
 * (default 0) then `id`; the result of the task before it names it as `next`
 * when it starts. `specId` names its TaskSpec, sent along (`spec`) the first
 * time this worker gets it; 0 means the spec always comes along. `ack`: a task that starts on arrival is
 * announced with 'started' (once its module is loaded). `batch`: `args` is a
 * list of argument lists, run one after the other; the result is one Outcome
 * per item.
 */
export interface RunTask {
  id: number;
  specId: number;
  spec?: TaskSpec;
  args: unknown[];
  priority?: number;
  ack?: true;
  batch?: true;
  /** For `pool.stream`: send the values it yields, this many ahead of the consumer. */
  stream?: number;
}

/** A task's result, alone or in a 'results' message. */
export type Result = WorkerMessage & { t: 'ok' | 'err' };

/** Worker → parent. */
export type WorkerMessage =
  /** `cpu`: its tree's CPU time so far, µs (see `Usage`). */
  | ({ t: 'ready' } & Usage)
  | { t: 'started'; id: number }
  /** A value a streamed task yielded. */
  | { t: 'yield'; id: number; value: unknown }
  /** A value the running task passed to reportProgress(). */
  | { t: 'progress'; id: number; value: unknown }
  | { t: 'initFailed'; error: WireError }
  /**
   * A result. `ms`: how long the task ran, timed in the worker. `next`: the
   * task the worker started right after it, if any. `held`: its RSS reached
   * `maxRss`; it starts no more tasks, those waiting inside it or on their way.
   */
  | ({ t: 'ok'; id: number; value: unknown } & ResultTail)
  | ({ t: 'err'; id: number; error: WireError } & ResultTail)
  /** The tasks of a 'drop' that still waited: they never ran. */
  | { t: 'dropped'; ids: number[] }
  | { t: 'fatal'; error: WireError; kind: 'uncaughtException' | 'unhandledRejection' }
  | { t: 'finalized'; error?: WireError | undefined }
  /** Its process.exit() ran the 'exit' listeners: only Node's own teardown is left. */
  | { t: 'exiting'; code: number };

/**
 * What a worker's tree used so far (src/child/usage.ts): `cpu`, its CPU time
 * in µs as the kernel counts it (the pool takes the difference between two
 * messages); `peak`, its peak memory in bytes, sent when it changed.
 */
export interface Usage {
  cpu: number;
  peak?: number;
}

/** What a result carries besides its value or error (see WorkerMessage). */
export type ResultTail = Usage & { ms: number; rss?: number; next?: number; held?: true };

/**
 * One item of a batch: its result, or its error. On the wire the error is a
 * WireError (`Outcome`); the engine hands `map` the decoded one (`Outcome<unknown>`).
 */
export type Outcome<E = WireError> = [ok: true, value: unknown] | [ok: false, error: E];

/** First argument the worker is started with: its boot settings, as JSON. */
export interface BootConfig {
  cwd: string;
  parentPid: number;
  /**
   * `maxWorkerMemoryBytes`, when set: the worker reports its RSS with each
   * result, and once it is at or above this it starts no task waiting inside
   * it (the pool retires it and takes them back).
   */
  maxRss?: number;
  /** `concurrentTasksPerWorker` above 1: how many tasks it runs at once. */
  concurrent?: number;
  /** Kernel containment: the cgroups the pool moved the worker into before its first message. */
  cgroup?: CgroupBoot;
  /**
   * No sentinel guards the pool (src/parent/containment/sentinel.ts): the
   * worker runs a watchdog thread that kills its tree if the pool's process dies.
   */
  watchdog?: true;
  /** The code cache directory of the pool, '' when off (src/shared/code-cache.ts). */
  codeCache?: string;
}

/** A worker's cgroups, as it needs them (src/child/cgroup.ts). */
export interface CgroupBoot {
  /** Its v2 `cgroup.kill`: written when the pool's process dies (by the worker, or its watchdog thread). */
  kill: string;
  /** `pids.max` to write once it knows its own threads, with `processes` (`maxTaskProcesses`). */
  pidsMax?: string;
  processes?: number;
  /** Its v2 `cpu.stat`, for `future.usage` (src/child/usage.ts). */
  cpuStat?: string;
  /** Its memory cgroup's peak: v1 `memory.max_usage_in_bytes` (`resettable`) or v2 `memory.peak`. */
  memoryPeak?: { file: string; resettable: boolean };
}

/**
 * The key under which the worker publishes a function returning the running
 * task's AbortSignal (made on first use, so tasks that never ask pay nothing).
 */
export const SIGNAL_SLOT = Symbol.for('deadpool.taskSignal');

/** The key under which the worker publishes the running task's progress reporter. */
export const PROGRESS_SLOT = Symbol.for('deadpool.reportProgress');

/**
 * An error in a shape that survives both serializations. `thrown` carries a
 * non-Error value as it was thrown.
 */
export type WireError =
  | {
      kind: 'error';
      ctor: string;
      name: string;
      message: string;
      stack: string | undefined;
      props: Record<string, unknown>;
      cause?: WireError;
      errors?: WireError[];
    }
  | { kind: 'thrown'; value: unknown }
  /** One of the pool's own errors, raised in the worker (a result that cannot be sent). */
  | { kind: 'pool'; code: PoolErrorCode; message: string; stack?: string };

/** The pool errors a worker can raise itself. */
const POOL_ERRORS = {
  ERR_DEADPOOL_SERIALIZATION: SerializationError,
  ERR_DEADPOOL_TIMEOUT: TimeoutError,
  ERR_DEADPOOL_CANCELLED: CancelledError,
  ERR_DEADPOOL_NESTED: NestedPoolError,
} satisfies Record<string, new (message: string) => DeadpoolError>;

export type PoolErrorCode = keyof typeof POOL_ERRORS;

/** The built-in error classes a task's error keeps across the boundary. */
export const BUILTINS: Readonly<Record<string, new (message?: string) => Error>> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

const SKIP = new Set(['name', 'message', 'stack', 'cause', 'errors']);

/** Structured clone decides what crosses; a value it refuses is described instead. */
export function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** Turn anything thrown into a WireError. Depth-limited for cause cycles. */
export function toWire(thrown: unknown, depth = 0): WireError {
  if (!(thrown instanceof Error)) {
    if (cloneable(thrown)) return { kind: 'thrown', value: thrown };
    const error = new TypeError(
      `the task threw a value that cannot be serialized: ${String(thrown)}`,
    );
    return toWire(error, depth);
  }
  // A pool refused in the worker (any copy of the library's) stays the pool's error.
  if ((thrown as { code?: unknown }).code === 'ERR_DEADPOOL_NESTED') {
    const wire: WireError = { kind: 'pool', code: 'ERR_DEADPOOL_NESTED', message: thrown.message };
    if (typeof thrown.stack === 'string') wire.stack = thrown.stack;
    return wire;
  }
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(thrown)) {
    if (SKIP.has(key)) continue;
    const value = (thrown as unknown as Record<string, unknown>)[key];
    props[key] = cloneable(value) ? value : `[unserializable ${typeof value}]`;
  }
  // Node's and deadpool's own errors keep `code` on the prototype.
  const { code } = thrown as { code?: unknown };
  if (!('code' in props) && (typeof code === 'string' || typeof code === 'number'))
    props.code = code;
  let ctor = 'Error';
  for (
    let proto = Object.getPrototypeOf(thrown) as object | null;
    proto;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    const name = (proto.constructor as { name?: string } | undefined)?.name;
    if (name && (name in BUILTINS || name === 'AggregateError')) {
      ctor = name;
      break;
    }
  }
  const wire: WireError = {
    kind: 'error',
    ctor,
    name: String(thrown.name),
    message: String(thrown.message),
    stack: typeof thrown.stack === 'string' ? thrown.stack : undefined,
    props,
  };
  if ('cause' in thrown && depth < 16) wire.cause = toWire(thrown.cause, depth + 1);
  if (thrown instanceof AggregateError && depth < 16) {
    wire.errors = Array.from(thrown.errors as unknown[], (e) => toWire(e, depth + 1));
  }
  return wire;
}

/**
 * Rebuild an error from its wire shape: the pool's own class for a pool error;
 * else the same class for built-ins, same name, props, cause. The one decoder.
 */
export function fromWire(wire: WireError): unknown {
  if (wire.kind === 'thrown') return wire.value;
  if (wire.kind === 'pool') {
    const error = new POOL_ERRORS[wire.code](wire.message);
    // The worker's stack shows where the pool was created.
    if (wire.stack !== undefined) {
      Object.defineProperty(error, 'stack', {
        value: wire.stack,
        configurable: true,
        writable: true,
      });
    }
    return error;
  }
  const errors = wire.errors?.map(fromWire);
  const error =
    wire.ctor === 'AggregateError'
      ? new AggregateError(errors ?? [], wire.message)
      : new (BUILTINS[wire.ctor] ?? Error)(wire.message);
  const protoName = (Object.getPrototypeOf(error) as Error).name;
  if (wire.name !== protoName) {
    Object.defineProperty(error, 'name', { value: wire.name, configurable: true, writable: true });
  }
  if (wire.stack !== undefined) {
    Object.defineProperty(error, 'stack', {
      value: wire.stack,
      configurable: true,
      writable: true,
    });
  }
  if (wire.cause !== undefined) {
    Object.defineProperty(error, 'cause', {
      value: fromWire(wire.cause),
      configurable: true,
      writable: true,
    });
  }
  Object.assign(error, wire.props);
  return error;
}
