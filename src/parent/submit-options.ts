/**
 * The options of `submit()` (and `stream()`, `map()`), their validation, and
 * the pool-wide defaults they fall back on.
 */
import type { ProgressCallback } from './future.js';
import type { Settings } from './options.js';
import { duration, integer, invalid, knownKeys } from './validate.js';

/**
 * `P`: the type of the progress values `onProgress` receives (the caller's
 * word, not checked at run time; see ProgressCallback). @default unknown
 */
export interface SubmitOptions<P = unknown> {
  /** Milliseconds of execution before the worker's tree is SIGKILLed. @default the pool's `timeout` */
  timeout?: number;
  /** Milliseconds of execution before `taskSignal()` is aborted; must be less than `timeout`. */
  softTimeout?: number;
  /** Integer >= 0; lower runs first; ties run in submission order. @default 0 */
  priority?: number;
  /**
   * Milliseconds the task may wait for a worker; past it, it leaves the backlog
   * and fails with TimeoutError (`phase: 'queue'`) without running. @default the pool's `queueTimeout`
   */
  queueTimeout?: number;
  /** Aborting it cancels a waiting task; a running one is treated as `abort` says. */
  signal?: AbortSignal;
  /**
   * What an aborted `signal` does to a running task: `'kill'` SIGKILLs its
   * worker's tree; `'cooperative'` cancels the future at once and aborts the
   * task's `taskSignal()` with the same reason, killing the worker only if
   * the task is still running at its hard `timeout`. @default 'kill'
   */
  abort?: 'kill' | 'cooperative';
  /** A label shown in errors, events and debug output. */
  name?: string;
  /** Receives each value the task passes to `reportProgress`, in order, before the future settles. */
  onProgress?: ProgressCallback<unknown, P>;
  /**
   * Who the task is for: within one priority, waiting tasks are taken
   * round-robin across tenants, so one that submits a flood cannot starve the
   * others. Tasks without a tenant are one tenant of their own.
   */
  tenant?: string;
  /**
   * A key for a warm worker cache: the task goes to a free worker that last
   * ran this key, else to one holding none, else to any free worker. It never
   * waits for a particular worker.
   */
  affinity?: string;
}

/**
 * The keys `submit` accepts, and so the one place a new submit option is
 * listed (the compiler insists every key of SubmitOptions is here). `map` and
 * `stream` accept these and their own.
 */
const SUBMIT_KEY_TABLE = {
  timeout: true,
  softTimeout: true,
  priority: true,
  queueTimeout: true,
  signal: true,
  abort: true,
  name: true,
  onProgress: true,
  tenant: true,
  affinity: true,
} as const satisfies Record<keyof SubmitOptions, true>;

export const SUBMIT_KEYS: readonly string[] = Object.keys(SUBMIT_KEY_TABLE);
export const MAP_KEYS: readonly string[] = [...SUBMIT_KEYS, 'ordered'];
export const STREAM_KEYS: readonly string[] = [...SUBMIT_KEYS, 'highWaterMark'];

export interface JobOptions {
  readonly timeout: number | undefined;
  readonly softTimeout: number | undefined;
  readonly queueTimeout: number | undefined;
  readonly abort: 'kill' | 'cooperative';
  readonly priority: number;
  readonly signal: AbortSignal | undefined;
  readonly name: string | undefined;
  readonly onProgress: ProgressCallback | undefined;
  readonly tenant: string | undefined;
  readonly affinity: string | undefined;
}

type PoolDefaults = Pick<Settings, 'timeout' | 'queueTimeout'>;

/**
 * The options of a task submitted without any, or with none but a
 * `priority` below this: one frozen object per pool and priority, so a
 * flood of such tasks (the common case) allocates none per task.
 */
const SHARED_PRIORITIES = 64;
const DEFAULTS = new WeakMap<PoolDefaults, JobOptions[]>();

function defaultsOf(pool: PoolDefaults, priority = 0): JobOptions {
  let shared = DEFAULTS.get(pool);
  if (shared === undefined) DEFAULTS.set(pool, (shared = []));
  return (shared[priority] ??= Object.freeze({
    timeout: pool.timeout,
    softTimeout: undefined,
    queueTimeout: pool.queueTimeout,
    abort: 'kill',
    priority,
    signal: undefined,
    name: undefined,
    onProgress: undefined,
    tenant: undefined,
    affinity: undefined,
  }));
}

/**
 * Validate `submit`'s options; the pool's `timeout` and `queueTimeout` are the
 * defaults. A key outside `allowed` (`map`'s and `stream`'s add their own,
 * which their callers read) is refused.
 */
export function normalizeSubmitOptions<P>(
  options: SubmitOptions<P> | undefined,
  pool: PoolDefaults,
  allowed: readonly string[] = SUBMIT_KEYS,
): JobOptions {
  if (options === undefined) return defaultsOf(pool);
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    invalid('options', 'an options object', options);
  }
  knownKeys(options, allowed);
  const timeout = duration('timeout', options.timeout) ?? pool.timeout;
  const queueTimeout = duration('queueTimeout', options.queueTimeout) ?? pool.queueTimeout;
  const abort = options.abort ?? 'kill';
  if (abort !== 'kill' && abort !== 'cooperative') {
    invalid('abort', "'kill' or 'cooperative'", abort);
  }
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
  const { tenant, affinity } = options;
  if (tenant !== undefined && typeof tenant !== 'string') invalid('tenant', 'a string', tenant);
  if (affinity !== undefined && typeof affinity !== 'string') {
    invalid('affinity', 'a string', affinity);
  }
  if (
    priority < SHARED_PRIORITIES &&
    timeout === pool.timeout &&
    queueTimeout === pool.queueTimeout &&
    abort === 'kill' &&
    softTimeout === undefined &&
    signal === undefined &&
    name === undefined &&
    onProgress === undefined &&
    tenant === undefined &&
    affinity === undefined
  ) {
    return defaultsOf(pool, priority);
  }
  return {
    timeout,
    softTimeout,
    queueTimeout,
    abort,
    priority,
    signal,
    name,
    // The values' type is the caller's word (see ProgressCallback).
    onProgress: onProgress as ProgressCallback | undefined,
    tenant,
    affinity,
  };
}
