/**
 * The options of `new Deadpool()` and `submit()`, and their validation. Every
 * bad value throws at once with one message template:
 * "Expected `maxWorkers` to be a positive integer, got `0` (number)".
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { TaskSpec } from '../shared/protocol.js';
import type { ProgressCallback } from './future.js';
import { specOf, type Task } from '../shared/task.js';

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
  /** Default per-task timeout in milliseconds. @default undefined (none) */
  timeout?: number;
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
  readonly timeout: number | undefined;
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
}

/** How many workers the pool keeps: at least `minWorkers` when idle, at most `maxWorkers`. */
export interface Bounds {
  readonly minWorkers: number;
  readonly maxWorkers: number;
}

function show(value: unknown): string {
  let text: string;
  try {
    text =
      typeof value === 'string' ? value : typeof value === 'bigint' ? `${value}n` : String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return `\`${text}\` (${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value})`;
}

/** Throw the one-template error: TypeError, or RangeError for a number out of range. */
export function invalid(
  name: string,
  expected: string,
  value: unknown,
  Ctor: ErrorConstructor = TypeError,
): never {
  throw new Ctor(`Expected \`${name}\` to be ${expected}, got ${show(value)}`);
}

function numberError(value: unknown): ErrorConstructor {
  return typeof value === 'number' ? RangeError : TypeError;
}

export function integer(name: string, value: unknown, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && value === Infinity && fallback === Infinity) return value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    invalid(
      name,
      min === 0 ? 'an integer >= 0' : `an integer >= ${min}`,
      value,
      numberError(value),
    );
  }
  return value;
}

/** Milliseconds: a finite number > 0, or undefined. */
export function duration(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    invalid(name, 'a finite number of milliseconds > 0', value, numberError(value));
  }
  return value;
}

function bool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') invalid(name, 'a boolean', value);
  return value;
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

const KNOWN = new Set<string>([
  'maxWorkers', 'minWorkers', 'idleTimeout', 'maxTasksPerChild', 'maxWorkerMemoryBytes',
  'memoryLimitBytes', 'memorySampleInterval', 'maxBacklog', 'timeout', 'initializer', 'initargs',
  'finalizer', 'finalargs', 'startTimeout', 'env', 'execArgv', 'cwd', 'serialization',
  'shutdownWait', 'shutdownCancelFutures',
]); // prettier-ignore

export function normalizeOptions(options: DeadpoolOptions = {}): Settings {
  if (typeof options !== 'object' || options === null) invalid('options', 'an object', options);
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key))
      throw new TypeError(`Unknown option \`${key}\`; the options are: ${[...KNOWN].join(', ')}`);
  }
  const { minWorkers, maxWorkers } = normalizeBounds(options);
  const execArgv = options.execArgv ?? process.execArgv;
  if (!Array.isArray(execArgv) || !execArgv.every((arg) => typeof arg === 'string')) {
    invalid('execArgv', 'an array of strings', execArgv);
  }
  let cwd: unknown = options.cwd ?? process.cwd();
  if (cwd instanceof URL) cwd = fileURLToPath(cwd);
  if (typeof cwd !== 'string' || cwd === '') invalid('cwd', 'a path or a file: URL', cwd);
  const serialization = options.serialization ?? 'advanced';
  if (serialization !== 'advanced' && serialization !== 'json') {
    invalid('serialization', "'advanced' or 'json'", serialization);
  }
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
    memoryLimitBytes: integer('memoryLimitBytes', options.memoryLimitBytes, 1, Infinity),
    memorySampleInterval: duration('memorySampleInterval', options.memorySampleInterval) ?? 100,
    maxBacklog: integer('maxBacklog', options.maxBacklog, 0, Infinity),
    timeout: duration('timeout', options.timeout),
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

export interface SubmitOptions {
  /** Milliseconds of execution before the worker's tree is SIGKILLed. @default the pool's `timeout` */
  timeout?: number;
  /** Milliseconds of execution before `taskSignal()` is aborted; must be less than `timeout`. */
  softTimeout?: number;
  /** Integer >= 0; lower runs first; ties run in submission order. @default 0 */
  priority?: number;
  /** Aborting it cancels a waiting task or kills a running one. */
  signal?: AbortSignal;
  /** A label shown in errors, events and debug output. */
  name?: string;
  /** Receives each value the task passes to `reportProgress`, in order, before the future settles. */
  onProgress?: ProgressCallback;
}

export interface JobOptions {
  timeout: number | undefined;
  softTimeout: number | undefined;
  priority: number;
  signal: AbortSignal | undefined;
  name: string | undefined;
  onProgress: ProgressCallback | undefined;
}

export function normalizeSubmitOptions(
  options: SubmitOptions | undefined,
  poolTimeout: number | undefined,
): JobOptions {
  if (options === undefined) {
    return {
      timeout: poolTimeout,
      softTimeout: undefined,
      priority: 0,
      signal: undefined,
      name: undefined,
      onProgress: undefined,
    };
  }
  if (typeof options !== 'object' || options === null) invalid('options', 'an object', options);
  const timeout = duration('timeout', options.timeout) ?? poolTimeout;
  const softTimeout = duration('softTimeout', options.softTimeout);
  if (softTimeout !== undefined && timeout !== undefined && softTimeout >= timeout) {
    throw new RangeError(
      `Expected \`softTimeout\` to be less than \`timeout\` (${timeout} ms), got \`${softTimeout}\` (number)`,
    );
  }
  const priority = integer('priority', options.priority, 0, 0);
  const { signal, name } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal))
    invalid('signal', 'an AbortSignal', signal);
  if (name !== undefined && typeof name !== 'string') invalid('name', 'a string', name);
  const { onProgress } = options;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    invalid('onProgress', 'a function', onProgress);
  }
  return { timeout, softTimeout, priority, signal, name, onProgress };
}
