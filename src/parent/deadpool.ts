/**
 * The Deadpool facade: options in, futures out, events, disposal. The engine
 * behind it is private.
 */
import { EventEmitter } from 'node:events';
import { BacklogFullError, PoolClosedError } from '../shared/errors.js';
import { refuseNestedPool } from '../shared/nesting.js';
import { specOf, type Task, type TaskFunction } from '../shared/task.js';
import type { ContainmentInfo } from './containment/probe.js';
import { Engine } from './engine.js';
import type { DeadpoolEvents } from './events.js';
import type { Future } from './future.js';
import { mapItems } from './map.js';
import { normalizeMetricsOptions, type MetricsOptions } from './metrics.js';
import { Observer } from './observer.js';
import { normalizeBounds, normalizeOptions, type DeadpoolOptions } from './options.js';
import {
  MAP_KEYS,
  normalizeSubmitOptions,
  STREAM_KEYS,
  type SubmitOptions,
} from './submit-options.js';
import { bool, integer, invalid, optionsOf } from './validate.js';
import type { DeadpoolStatistics } from './stats.js';
import type { TaskStream } from './stream.js';

const DEFAULT_HIGH_WATER_MARK = 16;
import { traceWorker } from './tracing.js';

/** `args` may be left out when the task takes no required argument. */
export type SubmitArgs<F extends TaskFunction, O = SubmitOptions> =
  [] extends Parameters<F>
    ? [args?: Parameters<F>, options?: O]
    : [args: Parameters<F>, options?: O];

/** What a task's future resolves with: its result; for a generator task, the values it yielded. */
export type TaskResult<F extends TaskFunction> = [ReturnType<F>] extends [never]
  ? never
  : ReturnType<F> extends AsyncIterable<infer T> | Generator<infer T>
    ? T[]
    : Awaited<ReturnType<F>>;

/** The values `pool.stream` delivers: a generator task's yielded values; any other task's result, once. */
export type Yielded<F extends TaskFunction> = [ReturnType<F>] extends [never]
  ? never
  : ReturnType<F> extends AsyncIterable<infer T> | Generator<infer T>
    ? T
    : Awaited<ReturnType<F>>;

export interface StreamOptions<P = unknown> extends SubmitOptions<P> {
  /** How many values the worker may produce ahead of the consumer. @default 16 */
  highWaterMark?: number;
}

/** `submit`'s options, and `ordered`. */
export interface MapOptions<P = unknown> extends SubmitOptions<P> {
  /** Results in input order (true), or in the order they complete (false). @default true */
  ordered?: boolean;
}

export interface ShutdownOptions {
  /** Wait for running (and, unless cancelled, waiting) tasks and for every worker to exit. */
  wait?: boolean;
  /** Cancel waiting tasks; with `wait: false`, also SIGKILL running ones. */
  cancelFutures?: boolean;
}

const SHUTDOWN_KEYS = Object.keys({
  wait: true,
  cancelFutures: true,
} as const satisfies Record<keyof ShutdownOptions, true>);

const RESIZE_KEYS: readonly string[] = ['minWorkers', 'maxWorkers'];

export class Deadpool extends EventEmitter<DeadpoolEvents> {
  readonly #engine: Engine;
  #closed = false;
  #shutdown: Promise<void> | undefined;

  constructor(options: DeadpoolOptions = {}) {
    super();
    refuseNestedPool();
    const settings = normalizeOptions(options);
    this.#engine = new Engine(settings, new Observer(this), (name, ...args) => {
      traceWorker(this, name, args[0]);
      this.#deliver(name, args);
    });
  }

  /**
   * Call each listener of `name` as EventEmitter's `emit` would (in order,
   * with the pool as `this`, a `once` listener removed as it is called), but
   * each on its own: a listener that throws becomes a warning and the next
   * one is still called (docs/api.md, "Events"). The pool emits no 'error'
   * event (DeadpoolEvents), so EventEmitter's throw for an 'error' nobody
   * listens to never applies here; a caller's own `emit('error')` is
   * EventEmitter's, unchanged.
   */
  #deliver(name: keyof DeadpoolEvents, args: unknown[]): void {
    // rawListeners: a copy taken now, with the `once` wrappers that remove themselves.
    for (const listener of this.rawListeners(name) as ((...args: unknown[]) => unknown)[]) {
      try {
        Reflect.apply(listener, this, args);
      } catch (error) {
        process.emitWarning(`a deadpool '${name}' listener threw: ${String(error)}`, {
          code: 'DEADPOOL_LISTENER',
        });
      }
    }
  }

  /**
   * Run `fn(...args)` in a worker. Returns at once; never blocks. `P`, the
   * type of the progress values, is read from `onProgress`'s annotation.
   */
  submit<F extends TaskFunction, P = unknown>(
    fn: Task<F>,
    ...rest: SubmitArgs<F, SubmitOptions<P>>
  ): Future<TaskResult<F>>;
  // Named parameters, not the signature's rest array: a submit then
  // allocates no array to destructure.
  submit(fn: Task<TaskFunction>, args: unknown = [], options?: SubmitOptions): Future<unknown> {
    const spec = specOf(fn);
    if (!Array.isArray(args)) invalid('args', 'an array of arguments', args);
    const jobOptions = normalizeSubmitOptions(options, this.#engine.settings);
    this.#admit();
    return this.#engine.submit(spec, args, jobOptions);
  }

  /**
   * Run a generator task (an async generator function, or one returning an
   * async iterable) and read its values as they are produced, the worker at
   * most `highWaterMark` values ahead. Leaving the loop early ends the
   * generator in the worker (its `finally` blocks run). A task that is not
   * a generator yields its (awaited) result once (docs/streams.md).
   */
  stream<F extends TaskFunction, P = unknown>(
    fn: Task<F>,
    ...rest: SubmitArgs<F, StreamOptions<P>>
  ): TaskStream<Yielded<F>> {
    const [args = [], options = {}] = rest as unknown as [
      unknown[] | undefined,
      StreamOptions | undefined,
    ];
    const spec = specOf(fn);
    if (!Array.isArray(args)) invalid('args', 'an array of arguments', args);
    const jobOptions = normalizeSubmitOptions(options, this.#engine.settings, STREAM_KEYS);
    const hwm = integer('highWaterMark', options.highWaterMark, 1, DEFAULT_HIGH_WATER_MARK);
    this.#admit();
    return this.#engine.stream(spec, args, jobOptions, hwm);
  }

  /**
   * Run `fn(item)` for each item of `iterable`, yielding results in input order
   * (or, with `ordered: false`, as they complete). The input is read lazily,
   * with a bounded number of tasks in flight.
   */
  map<F extends (item: never) => unknown, P = unknown>(
    fn: Task<F>,
    iterable: Iterable<Parameters<F>[0]> | AsyncIterable<Parameters<F>[0]>,
    options?: MapOptions<P>,
  ): AsyncIterable<Awaited<ReturnType<F>>> {
    const spec = specOf(fn);
    // Any iterable, a string included (one item per character); `in` would throw on a primitive.
    const { [Symbol.iterator]: sync, [Symbol.asyncIterator]: async } = (iterable ?? {}) as Partial<
      Iterable<unknown> & AsyncIterable<unknown>
    >;
    if (typeof sync !== 'function' && typeof async !== 'function') {
      invalid('iterable', 'an iterable or async iterable', iterable);
    }
    const jobOptions = normalizeSubmitOptions(options, this.#engine.settings, MAP_KEYS);
    const ordered = options?.ordered ?? true;
    if (typeof ordered !== 'boolean') invalid('ordered', 'a boolean', ordered);
    return mapItems<Awaited<ReturnType<F>>>(
      {
        submit: (items) => {
          this.#admit();
          return this.#engine.submit(spec, items, jobOptions, true);
        },
        room: () => {
          const { maxBacklog } = this.#engine.settings;
          // Closed, or maxBacklog 0: no wait helps; submit throws as for `submit`.
          if (this.#closed || maxBacklog === 0 || this.#engine.backlogSize < maxBacklog) {
            return undefined;
          }
          return this.#engine.backlogBelow(maxBacklog);
        },
        maxBatches: this.#engine.bounds.maxWorkers * 2 + 2,
        batching: jobOptions.timeout === undefined,
        ordered,
        signal: jobOptions.signal,
      },
      iterable,
    );
  }

  #admit(): void {
    if (this.#closed) throw new PoolClosedError('the pool is shut down and takes no new tasks');
    const { maxBacklog } = this.#engine.settings;
    if (this.#engine.backlogSize >= maxBacklog) {
      throw new BacklogFullError(
        `the backlog is full: ${maxBacklog} tasks are already waiting (maxBacklog)`,
      );
    }
  }

  /**
   * Stop taking tasks and wind down, as the table in docs/api.md, "Pool methods", says.
   * Idempotent: a later call (also a concurrent one) changes nothing and
   * resolves when the first call's work is done. Bad options throw, also then.
   */
  shutdown(options?: ShutdownOptions): Promise<void> {
    optionsOf('shutdown()', 'options', options, SHUTDOWN_KEYS);
    const settings = this.#engine.settings;
    const wait = bool('wait', options?.wait, settings.shutdownWait);
    const cancelFutures = bool(
      'cancelFutures',
      options?.cancelFutures,
      settings.shutdownCancelFutures,
    );
    if (this.#shutdown) return this.#shutdown;
    this.#closed = true;
    this.#shutdown = this.#engine.close(wait, cancelFutures);
    return this.#shutdown;
  }

  /** `shutdown()` with the constructor's `shutdownWait` / `shutdownCancelFutures`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  /** Retire every worker gracefully and start fresh ones; resolves when no old worker is left. */
  recycleWorkers(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#engine.recycle();
  }

  /** Resolves when the workers started at construction are up and initialized. */
  ready(): Promise<void> {
    return this.#engine.ready();
  }

  /** Change the bounds at run time; extra workers retire when idle, missing ones start. */
  resize(bounds: { minWorkers?: number; maxWorkers?: number }): void {
    optionsOf('resize()', 'bounds', bounds, RESIZE_KEYS, false);
    const next = normalizeBounds(bounds, this.#engine.bounds);
    if (!this.#closed) this.#engine.setBounds(next);
  }

  /**
   * What contains the workers and everything they start, known from
   * construction: kind, the limits the kernel enforces, and why not the
   * kernel when it is not (docs/containment.md).
   */
  get containment(): ContainmentInfo {
    return this.#engine.settings.containment.info;
  }

  /** The most workers alive at once now (the constructor's, or the last `resize()`'s). */
  get maxWorkers(): number {
    return this.#engine.bounds.maxWorkers;
  }

  /** The fewest workers kept when idle now. */
  get minWorkers(): number {
    return this.#engine.bounds.minWorkers;
  }

  /** Counters and gauges; see docs/api.md, "Statistics", for each key. */
  getStatistics(): DeadpoolStatistics {
    return this.#engine.snapshot();
  }

  /**
   * The pool's metrics in the Prometheus text exposition format (0.0.4); see
   * docs/observability.md, "Metrics". `labels` are added to every series.
   */
  metrics(options?: MetricsOptions): string {
    return this.#engine.metrics(normalizeMetricsOptions(options));
  }

  /**
   * Resolves when fewer than `n` tasks wait: back-pressure for producers.
   * Without `n`, when `submit` has room again (`maxBacklog`); on a pool whose
   * `maxBacklog` is 0 that never comes, so it throws (docs/api.md, "Pool methods").
   */
  backlogBelow(n?: number): Promise<void> {
    if (n === undefined) {
      const { maxBacklog } = this.#engine.settings;
      if (maxBacklog === 0) {
        throw new RangeError(
          "backlogBelow() without `n` waits until submit has room, and this pool's `maxBacklog` is 0: it refuses every submit, so that never happens; pass `n` (an integer >= 1) to wait on the backlog's size",
        );
      }
      n = maxBacklog;
    }
    if (n === Infinity) return Promise.resolve();
    integer('n', n, 1, 1);
    return this.#engine.backlogBelow(n);
  }
}
