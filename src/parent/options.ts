/**
 * The options of `new Deadpool()`, and their validation: every bad value
 * throws at once with validate.ts's one message template. The options of
 * `submit()` are submit-options.ts's.
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TaskSpec } from '../shared/protocol.js';
import { specOf, type Task } from '../shared/task.js';
import { bool, callback, duration, integer, invalid, knownKeys } from './validate.js';
import { Containment, type ContainmentMode } from './containment/containment.js';

export interface DeadpoolOptions {
  /** Most workers alive at once; all are started at construction. @default os.availableParallelism() */
  maxWorkers?: number;
  /** Fewest workers kept when idle. @default maxWorkers */
  minWorkers?: number;
  /** Milliseconds a worker above `minWorkers` may stay idle before it is retired. @default 10_000 */
  idleTimeout?: number;
  /** A worker that has run this many tasks is retired after its task. @default undefined (no limit) */
  maxTasksPerChild?: number;
  /** After each task, a worker whose RSS is at or above this many bytes is retired. @default undefined */
  maxWorkerMemoryBytes?: number;
  /**
   * Hard cap in bytes: while a task runs, the RSS of the worker's process tree is
   * sampled; above this the tree is SIGKILLed and the future rejects with MemoryLimitError.
   * @default undefined
   */
  memoryLimitBytes?: number;
  /** How often `memoryLimitBytes` is sampled, in milliseconds. @default 100 */
  memorySampleInterval?: number;
  /** Most tasks waiting (not running); `submit` past it throws BacklogFullError. @default Infinity */
  maxBacklog?: number;
  /**
   * Most tasks of one `tenant` running (or queued inside a worker) at once;
   * the rest of that tenant wait even while workers are free. Tasks without
   * a tenant are not capped. Integer >= 1. @default Infinity
   */
  maxRunningPerTenant?: number;
  /**
   * Tasks one worker runs at once, for async, I/O-bound tasks; each keeps its
   * own timeout, signal, progress and result, but a kill takes the whole
   * worker and fails the others on it. Integer >= 1. @default 1
   */
  concurrentTasksPerWorker?: number;
  /** Default per-task timeout in milliseconds. @default undefined (none) */
  timeout?: number;
  /**
   * Default for `submit`'s `queueTimeout`: milliseconds a task may wait for a
   * worker before it fails with TimeoutError (`phase: 'queue'`). @default undefined (none)
   */
  queueTimeout?: number;
  /**
   * When given, workers' stdout and stderr are captured instead of written to
   * the parent's, and passed here a line at a time. @default undefined (inherited stdout, stderr echoed)
   */
  onWorkerOutput?: (info: WorkerOutput) => void;
  /** A task run in each worker once, before its first task. @default undefined */
  initializer?: Task;
  /** Arguments of `initializer`. @default [] */
  initargs?: unknown[];
  /** A task run in a worker when it is retired gracefully (not when killed). @default undefined */
  finalizer?: Task;
  /** Arguments of `finalizer`. @default [] */
  finalargs?: unknown[];
  /**
   * Milliseconds a new worker may take to boot and run its initializer before
   * it counts as a failed start and is killed. @default 30_000
   */
  startTimeout?: number;
  /** The worker's whole environment: an object, or a function called at each spawn. @default process.env at each spawn */
  env?: NodeJS.ProcessEnv | (() => NodeJS.ProcessEnv);
  /** Node.js flags of the worker, as `fork`'s `execArgv`. @default process.execArgv */
  execArgv?: string[];
  /** The worker's working directory, as `fork`'s `cwd`. @default process.cwd() */
  cwd?: string | URL;
  /** How arguments and results cross. @default 'advanced' */
  serialization?: 'advanced' | 'json';
  /** `wait` used by `Symbol.asyncDispose`. @default true */
  shutdownWait?: boolean;
  /** `cancelFutures` used by `Symbol.asyncDispose`. @default false */
  shutdownCancelFutures?: boolean;
  /**
   * How workers and everything they start are contained: `'auto'` uses the
   * kernel's cgroups where the host allows and falls back to the process
   * group; `'kernel'` requires cgroups (the constructor throws
   * ContainmentError without them); `'process-group'` never uses them. See
   * docs/containment.md. @default 'auto'
   */
  containment?: ContainmentMode;
  /**
   * Most processes a worker and everything it started may be at once (the
   * kernel's pids controller; a fork past it fails with EAGAIN). Needs
   * `'processes'` in `pool.containment.limits`. @default undefined (no limit)
   */
  maxTaskProcesses?: number;
}

/** A line a worker wrote, for `onWorkerOutput`. */
export interface WorkerOutput {
  pid: number;
  stream: 'stdout' | 'stderr';
  /** Without its line ending; a line longer than 64 KiB arrives in parts. */
  line: string;
  /**
   * The `name` of the task the worker runs, or ran last, when the line is
   * read (a line read after the next task started is that task's).
   */
  taskName: string | undefined;
}

/** The options after validation, with defaults filled in. Frozen: the bounds change only in the fleet. */
export interface Settings {
  /** The bounds given to the constructor; `resize()` changes the fleet's, not these. */
  readonly maxWorkers: number;
  readonly minWorkers: number;
  readonly idleTimeout: number;
  readonly maxTasksPerChild: number;
  readonly maxWorkerMemoryBytes: number;
  readonly memoryLimitBytes: number;
  readonly memorySampleInterval: number;
  readonly maxBacklog: number;
  readonly maxRunningPerTenant: number;
  readonly concurrentTasksPerWorker: number;
  readonly timeout: number | undefined;
  readonly queueTimeout: number | undefined;
  readonly onWorkerOutput: ((info: WorkerOutput) => void) | undefined;
  readonly initializer: TaskSpec | undefined;
  readonly initargs: readonly unknown[];
  readonly finalizer: TaskSpec | undefined;
  readonly finalargs: readonly unknown[];
  readonly startTimeout: number;
  readonly env: () => NodeJS.ProcessEnv;
  readonly execArgv: readonly string[];
  readonly cwd: string;
  readonly serialization: 'advanced' | 'json';
  readonly shutdownWait: boolean;
  readonly shutdownCancelFutures: boolean;
  readonly maxTaskProcesses: number;
  /** What contains the workers, probed at construction (containment/containment.ts). */
  readonly containment: Containment;
}

/** How many workers the pool keeps: at least `minWorkers` when idle, at most `maxWorkers`. */
export interface Bounds {
  readonly minWorkers: number;
  readonly maxWorkers: number;
}

function args(name: string, value: unknown): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) invalid(name, 'an array', value);
  try {
    structuredClone(value);
  } catch {
    invalid(name, 'an array of serializable values', value);
  }
  return value;
}

function taskOption(name: string, value: unknown): TaskSpec | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function' && (typeof value !== 'object' || value === null)) {
    invalid(name, 'a function, a defineTask() handle or a task() reference', value);
  }
  return specOf(value, name);
}

function env(value: unknown): () => NodeJS.ProcessEnv {
  if (value === undefined) return () => ({ ...process.env });
  if (typeof value === 'function') return value as () => NodeJS.ProcessEnv;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalid('env', 'an object or a function returning one', value);
  }
  const fixed = { ...(value as NodeJS.ProcessEnv) };
  return () => fixed;
}

/**
 * `cwd`: a path or a file: URL naming an existing directory, checked here so
 * a missing one is not blamed on node at the first spawn. A relative path
 * stays as given (fork resolves it against process.cwd()).
 */
function directory(value: unknown): string {
  if (value === undefined) return process.cwd();
  let path = value;
  if (value instanceof URL) {
    if (value.protocol !== 'file:') invalid('cwd', 'a path or a file: URL', value);
    path = fileURLToPath(value);
  }
  if (typeof path !== 'string' || path === '') invalid('cwd', 'a path or a file: URL', value);
  const where = resolve(path);
  let problem: string | undefined;
  try {
    const stats = statSync(where, { throwIfNoEntry: false });
    if (stats === undefined) problem = `${where} does not exist`;
    else if (!stats.isDirectory()) problem = `${where} is not a directory`;
  } catch (error) {
    problem = `${where} cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
  }
  if (problem !== undefined) invalid('cwd', `an existing directory (${problem})`, value);
  return path;
}

const KNOWN: readonly string[] = [
  'maxWorkers', 'minWorkers', 'idleTimeout', 'maxTasksPerChild', 'maxWorkerMemoryBytes',
  'memoryLimitBytes', 'memorySampleInterval', 'maxBacklog', 'timeout', 'queueTimeout',
  'maxRunningPerTenant', 'concurrentTasksPerWorker', 'onWorkerOutput', 'initializer', 'initargs',
  'finalizer', 'finalargs', 'startTimeout', 'env', 'execArgv', 'cwd', 'serialization',
  'shutdownWait', 'shutdownCancelFutures', 'containment', 'maxTaskProcesses',
]; // prettier-ignore

export function normalizeOptions(options: DeadpoolOptions = {}): Settings {
  if (typeof options !== 'object' || options === null) invalid('options', 'an object', options);
  knownKeys(options, KNOWN);
  const { minWorkers, maxWorkers } = normalizeBounds(options);
  const execArgv = options.execArgv ?? process.execArgv;
  if (!Array.isArray(execArgv) || !execArgv.every((arg) => typeof arg === 'string')) {
    invalid('execArgv', 'an array of strings', execArgv);
  }
  const cwd = directory(options.cwd);
  const serialization = options.serialization ?? 'advanced';
  if (serialization !== 'advanced' && serialization !== 'json') {
    invalid('serialization', "'advanced' or 'json'", serialization);
  }
  const containment = options.containment ?? 'auto';
  if (containment !== 'auto' && containment !== 'kernel' && containment !== 'process-group') {
    invalid('containment', "'auto', 'kernel' or 'process-group'", containment);
  }
  const memoryLimitBytes = integer('memoryLimitBytes', options.memoryLimitBytes, 1, Infinity);
  const maxTaskProcesses = integer('maxTaskProcesses', options.maxTaskProcesses, 1, Infinity);
  return Object.freeze({
    maxWorkers,
    minWorkers,
    idleTimeout: duration('idleTimeout', options.idleTimeout) ?? 10_000,
    maxTasksPerChild: integer('maxTasksPerChild', options.maxTasksPerChild, 1, Infinity),
    maxWorkerMemoryBytes: integer(
      'maxWorkerMemoryBytes',
      options.maxWorkerMemoryBytes,
      1,
      Infinity,
    ),
    memoryLimitBytes,
    memorySampleInterval: duration('memorySampleInterval', options.memorySampleInterval) ?? 100,
    maxBacklog: integer('maxBacklog', options.maxBacklog, 0, Infinity),
    maxRunningPerTenant: integer('maxRunningPerTenant', options.maxRunningPerTenant, 1, Infinity),
    concurrentTasksPerWorker: integer(
      'concurrentTasksPerWorker',
      options.concurrentTasksPerWorker,
      1,
      1,
    ),
    timeout: duration('timeout', options.timeout),
    queueTimeout: duration('queueTimeout', options.queueTimeout),
    onWorkerOutput: callback('onWorkerOutput', options.onWorkerOutput),
    initializer: taskOption('initializer', options.initializer),
    initargs: args('initargs', options.initargs),
    finalizer: taskOption('finalizer', options.finalizer),
    finalargs: args('finalargs', options.finalargs),
    startTimeout: duration('startTimeout', options.startTimeout) ?? 30_000,
    env: env(options.env),
    execArgv: [...execArgv],
    cwd,
    serialization,
    shutdownWait: bool('shutdownWait', options.shutdownWait, true),
    shutdownCancelFutures: bool('shutdownCancelFutures', options.shutdownCancelFutures, false),
    maxTaskProcesses,
    // Last: probing is the one step with effects (a debug line), after every check passed.
    containment: new Containment(containment, { memoryLimitBytes, maxTaskProcesses }),
  });
}

/**
 * Validate `minWorkers`/`maxWorkers` for the constructor (no `current`) and
 * `resize()` (`current`: what is left out keeps its value, and `minWorkers`
 * comes down with a smaller `maxWorkers`).
 */
export function normalizeBounds(
  input: { minWorkers?: unknown; maxWorkers?: unknown },
  current?: Bounds,
): Bounds {
  if (typeof input !== 'object' || input === null) invalid('bounds', 'an object', input);
  const maxWorkers = integer(
    'maxWorkers',
    input.maxWorkers,
    1,
    current?.maxWorkers ?? availableParallelism(),
  );
  const minWorkers = integer(
    'minWorkers',
    input.minWorkers,
    0,
    current ? Math.min(current.minWorkers, maxWorkers) : maxWorkers,
  );
  if (minWorkers > maxWorkers) {
    throw new RangeError(
      `Expected \`minWorkers\` to be <= \`maxWorkers\` (${maxWorkers}), got \`${minWorkers}\` (number)`,
    );
  }
  return { minWorkers, maxWorkers };
}
