/**
 * Child side: runs tasks one at a time (or, with `concurrentTasksPerWorker`
 * above 1, up to that many at once: each task's own signal, credits and
 * progress are found through AsyncLocalStorage, and no task names a `next`
 * nor holds back past maxWorkerMemoryBytes, the pool deciding both). Tasks the pool sends while one runs
 * wait here in a small queue, ordered by priority then the pool's order, so
 * a later task of higher priority waits behind at most the task that runs.
 * Each start is announced: the result of a task names the next one it starts
 * (`next`), and a task that asked for it (`ack`) and starts on arrival gets a
 * 'started' message. A task still waiting here can be dropped. No task
 * starts while a result is still being written (a large one, or any when
 * the pool reads slowly and the channel is full, is written in the
 * background): a task that kills this process must not take the results of
 * the tasks before it along, or the pool would fail them with its death
 * (docs/signals.md, "The stray SIGKILL").
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { TimeoutError } from '../shared/errors.js';
import {
  cloneable,
  fromWire,
  toWire,
  type Outcome,
  type Result,
  type ResultTail,
  type RunTask,
  type TaskSpec,
  type WireError,
  type WorkerMessage,
} from '../shared/protocol.js';
import { clock } from './clock.js';
import { explainReferenceError, type TaskLoader } from './load-task.js';
import type { ProgressSender } from './progress.js';
import { Credits, drive, isIterated, single } from './stream.js';
import type { UsageCounter } from './usage.js';

/** A task with its spec looked up. */
type Run = RunTask & { spec: TaskSpec };
type Callable = (...args: unknown[]) => unknown;

interface Current {
  id: number;
  batch: boolean;
  /** `clock()` when it was invoked; 0 until then (its module loads). */
  since: number;
  /** Made on first use, so tasks that never ask for their signal pay nothing. */
  controller: AbortController | undefined;
  /** For `pool.stream`: how many more values it may send. */
  credits: Credits | undefined;
}

/** A value the task produced cannot be sent: the task fails with a SerializationError. */
class Unsendable extends Error {
  readonly wire: WireError;
  constructor(wire: WireError) {
    super(wire.kind === 'pool' ? wire.message : 'unsendable');
    this.wire = wire;
  }
}

export class Runner {
  readonly #loader: TaskLoader;
  readonly #send: (message: WorkerMessage, then?: () => void) => void;
  readonly #progress: ProgressSender;
  readonly #usage: UsageCounter;
  /** The peak memory the last result carried (a result carries it only when it changed). */
  #peakSent = 0;
  readonly #maxRss: number | undefined;
  /** Tasks it runs at once (concurrentTasksPerWorker). */
  readonly #limit: number;
  /** With a limit above 1: which task the code running now belongs to. */
  readonly #context = new AsyncLocalStorage<Current>();
  readonly #queue: Run[] = [];
  /** TaskSpecs by the id the pool gave them (sent once per worker). */
  readonly #specs = new Map<number, TaskSpec>();
  /** The functions those specs loaded, by the same id. */
  readonly #fns = new Map<number, Callable>();
  /** The tasks running, by id (at most `#limit`). */
  readonly #running = new Map<number, Current>();
  /** Past maxWorkerMemoryBytes: it starts no more tasks; the pool retires it. */
  #held = false;
  /** Results handed to the channel and not yet written out. */
  #writing = 0;
  /** Called the next time the worker becomes idle (whenIdle). */
  #onIdle: (() => void) | undefined;

  constructor(
    loader: TaskLoader,
    send: (message: WorkerMessage, then?: () => void) => void,
    progress: ProgressSender,
    usage: UsageCounter,
    maxRss: number | undefined,
    limit = 1,
  ) {
    this.#loader = loader;
    this.#send = send;
    this.#progress = progress;
    this.#usage = usage;
    this.#maxRss = maxRss;
    this.#limit = limit;
  }

  /**
   * Tasks arrived: each waits in priority order; if nothing runs (and no
   * result is being written), the first starts now, and the others run back
   * to back after it.
   */
  run(received: readonly RunTask[]): void {
    for (const one of received) {
      if (one.spec && one.specId !== 0) this.#specs.set(one.specId, one.spec);
      const spec = one.spec ?? this.#specs.get(one.specId);
      if (spec === undefined) throw new Error(`deadpool bug: no task spec ${one.specId}`);
      // The message is this worker's own copy: the task keeps it, its spec filled in.
      const task = one as Run;
      task.spec = spec;
      const queue = this.#queue;
      let i = queue.length;
      while (i > 0 && before(task, queue[i - 1]!)) i--;
      // At the end (the common case) without splice, which allocates an array per call.
      if (i === queue.length) queue.push(task);
      else queue.splice(i, 0, task);
    }
    this.#startWaiting();
  }

  /** Start waiting tasks while there is room and every result is written out. */
  #startWaiting(): void {
    while (this.#running.size < this.#limit && !this.#held && this.#writing === 0) {
      const first = this.#queue.shift();
      if (!first) {
        if (this.#onIdle !== undefined && this.#running.size === 0) {
          const then = this.#onIdle;
          this.#onIdle = undefined;
          then();
        }
        return;
      }
      this.#start(first, first.ack === true);
    }
  }

  /** No task runs or waits here, and every result is written out. */
  get idle(): boolean {
    return this.#running.size === 0 && this.#queue.length === 0 && this.#writing === 0;
  }

  /** Call `then` once, the next time this worker becomes idle (warm.ts). */
  whenIdle(then: () => void): void {
    this.#onIdle = then;
  }

  /**
   * The task the calling code belongs to: with one task at a time, the one
   * running; with several, the one whose async context this is.
   */
  #here(): Current | undefined {
    if (this.#limit > 1) {
      const mine = this.#context.getStore();
      return mine && this.#running.get(mine.id) === mine ? mine : undefined;
    }
    for (const current of this.#running.values()) return current;
    return undefined;
  }

  /** Take the tasks among `ids` that still wait; returns their ids. */
  drop(ids: readonly number[]): number[] {
    const dropped: number[] = [];
    for (const id of ids) {
      const i = this.#queue.findIndex((task) => task.id === id);
      if (i === -1) continue;
      this.#queue.splice(i, 1);
      dropped.push(id);
    }
    return dropped;
  }

  /** Abort the running task's signal: with `reason`, else as its soft timeout. */
  abort(id: number, reason: WireError | undefined): void {
    const current = this.#running.get(id);
    if (current === undefined) return;
    current.controller ??= new AbortController();
    current.controller.abort(
      reason ? fromWire(reason) : new TimeoutError(`task ${id} passed its soft timeout`),
    );
  }

  /** The consumer of a streamed task took `n` values: it may send `n` more. */
  credit(id: number, n: number): void {
    this.#running.get(id)?.credits?.grant(n);
  }

  /** The consumer of a streamed task left: end the task's iterator. */
  stop(id: number): void {
    this.#running.get(id)?.credits?.stop();
  }

  /** The calling task's AbortSignal (for taskSignal()), if a task runs. */
  signal(): AbortSignal | undefined {
    const current = this.#here();
    if (!current) return undefined;
    current.controller ??= new AbortController();
    return current.controller.signal;
  }

  /** reportProgress() from the calling task; outside a task it does nothing. */
  report(value: unknown): void {
    const current = this.#here();
    if (current) this.#progress.report(current.id, value);
  }

  /**
   * Start a task. Synchronous tasks are answered without a detour through the
   * microtask queue; `announce` sends 'started' once the task's module is
   * loaded, so the parent's deadline does not count the import.
   */
  #start(task: Run, announce: boolean): void {
    this.#begin(task, this.#enter(task), announce);
  }

  /** Make `task` the running one (its signal, credits and abort apply from now), without invoking it. */
  #enter(task: Run): Current {
    const current: Current = {
      id: task.id,
      batch: task.batch === true,
      since: 0,
      controller: undefined,
      credits: task.stream === undefined ? undefined : new Credits(task.stream),
    };
    this.#running.set(task.id, current);
    return current;
  }

  /** Load `task`'s module and invoke it; `current` is its record from #enter. */
  #begin(task: Run, current: Current, announce: boolean): void {
    const { specId, spec } = task;
    const known = specId === 0 ? undefined : this.#fns.get(specId);
    if (known !== undefined) {
      this.#go(task, current, announce, known);
      return;
    }
    let loaded: ReturnType<TaskLoader['load']>;
    try {
      loaded = this.#loader.load(spec);
    } catch (error) {
      this.#finish(task.id, spec, false, error);
      return;
    }
    if (loaded instanceof Promise) {
      loaded.then(
        (fn) => {
          if (specId !== 0) this.#fns.set(specId, fn);
          this.#go(task, current, announce, fn);
        },
        (error: unknown) => this.#finish(task.id, spec, false, error),
      );
      return;
    }
    if (specId !== 0) this.#fns.set(specId, loaded);
    this.#go(task, current, announce, loaded);
  }

  /** Invoke the loaded task: at once, or once its announcement is out. */
  #go(task: Run, current: Current, announce: boolean, fn: Callable): void {
    current.since = clock(); // the run time leaves out loading the module
    if (!announce && this.#limit === 1) {
      this.#call(task, current, fn);
      return;
    }
    const call = (): void => this.#call(task, current, fn);
    const invoke = this.#limit > 1 ? (): void => this.#context.run(current, call) : call;
    // Invoked once the announcement is out: a task that ends this process
    // at once must not take it along (the pool would run the task again).
    if (announce) this.#send({ t: 'started', id: task.id }, invoke);
    else invoke();
  }

  #call(task: Run, current: Current, fn: Callable): void {
    if (current.batch) this.#invoke(task.id, task.spec, eachOf(fn, task.spec), [task.args]);
    else this.#invoke(task.id, task.spec, fn, task.args);
  }

  #invoke(id: number, spec: TaskSpec, fn: Callable, args: unknown[]): void {
    this.#usage.taskStarts();
    let result: unknown;
    try {
      result = fn(...args);
      const credits = this.#running.get(id)?.credits;
      // pool.stream of a task that is not a generator: its result is the one value.
      if (credits !== undefined && !isIterated(result)) result = single(result);
      if (isIterated(result)) {
        // A generator: stream its values (pool.stream) or collect them (submit).
        const emit = (value: unknown): void => {
          try {
            this.#send({ t: 'yield', id, value });
          } catch (error) {
            throw new Unsendable(unsendable('a value the task yielded', error));
          }
        };
        drive(result, credits, emit).then(
          (value) => this.#finish(id, spec, true, value),
          (error: unknown) => this.#finish(id, spec, false, error),
        );
        return;
      }
      if (isThenable(result)) {
        result.then(
          (value) => this.#finish(id, spec, true, value),
          (error: unknown) => this.#finish(id, spec, false, error),
        );
        return;
      }
    } catch (error) {
      this.#finish(id, spec, false, error);
      return;
    }
    this.#finish(id, spec, true, result);
  }

  /**
   * Send the task's result, naming the task that starts next; start it once
   * the result is written out (see the file header).
   */
  #finish(id: number, spec: TaskSpec, ok: boolean, value: unknown): void {
    const current = this.#running.get(id);
    if (current === undefined) return;
    this.#running.delete(id);
    this.#progress.flush(id);
    const now = clock();
    // A task whose module failed to load never ran.
    const ms = current.since === 0 ? 0 : now - current.since;
    if (this.#usage.due(ms, now)) this.#usage.read();
    const cpu = this.#usage.total();
    let message: Result;
    if (ok) {
      message = { t: 'ok', id, value, ms, cpu };
    } else {
      explainReferenceError(value, spec);
      const error = value instanceof Unsendable ? value.wire : toWire(value);
      message = { t: 'err', id, error, ms, cpu };
    }
    if (this.#usage.peak !== this.#peakSent) this.#peakSent = message.peak = this.#usage.peak;
    if (this.#maxRss !== undefined) {
      // Past maxWorkerMemoryBytes the pool retires this worker after this
      // task: what waits here, or arrives later, is kept for the pool to take
      // back, never started.
      message.rss = process.memoryUsage.rss();
      if (message.rss >= this.#maxRss && this.#limit === 1) this.#held = message.held = true;
    }
    const next = this.#held || this.#limit > 1 ? undefined : this.#queue.shift();
    if (next) message.next = next.id;
    // The next task is announced (and so abortable) now, invoked once the result is out.
    const entered = next && this.#enter(next);
    this.#writing++;
    const written = (): void => {
      this.#writing--;
      if (next && entered) this.#begin(next, entered, false);
      else this.#startWaiting();
    };
    this.#reply(message, ok && current.batch, written);
  }

  /**
   * Send a result; one that cannot cross becomes a SerializationError for
   * this task only (for a batch, for the items whose results cannot cross).
   */
  #reply(message: Result, batch: boolean, written: () => void): void {
    try {
      this.#send(message, written);
    } catch (error) {
      const { id, ms, cpu, peak, rss, next, held } = message;
      const tail: ResultTail = {
        ms,
        cpu,
        ...(peak !== undefined && { peak }),
        ...(rss !== undefined && { rss }),
        ...(next !== undefined && { next }),
        ...(held && { held }),
      };
      if (batch && message.t === 'ok') {
        const outcomes = (message.value as Outcome[]).map((outcome): Outcome =>
          !outcome[0] || cloneable(outcome[1])
            ? outcome
            : [false, unsendable('the result', 'it cannot be cloned')],
        );
        this.#reply({ t: 'ok', id, value: outcomes, ...tail }, false, written);
        return;
      }
      const what = message.t === 'ok' ? 'the result' : 'the error';
      this.#send({ t: 'err', id, error: unsendable(what, error), ...tail }, written);
    }
  }
}

/**
 * Lower priority number first; within a priority, the order the pool sent
 * them in (its backlog's order, round-robin across tenants: re-sorting by id
 * would undo that).
 */
function before(a: Run, b: Run): boolean {
  return (a.priority ?? 0) < (b.priority ?? 0);
}

function unsendable(what: string, error: unknown): WireError {
  const reason = error instanceof Error ? error.message : String(error);
  return {
    kind: 'pool',
    code: 'ERR_DEADPOOL_SERIALIZATION',
    message: `${what} cannot be serialized: ${reason}`,
  };
}

/**
 * A batch (from `map`): run `fn` over each argument list in turn, each item
 * keeping its own result or error. Synchronous items never touch the
 * microtask queue.
 */
function eachOf(fn: Callable, spec: TaskSpec): Callable {
  return (items) => {
    const lists = items as unknown[][];
    const outcomes: Outcome[] = [];
    const failed = (error: unknown): void => {
      explainReferenceError(error, spec);
      outcomes.push([false, toWire(error)]);
    };
    let i = 0;
    const step = (): Outcome[] | Promise<Outcome[]> => {
      while (i < lists.length) {
        let result: unknown;
        try {
          result = fn(...lists[i++]!);
        } catch (error) {
          failed(error);
          continue;
        }
        if (isThenable(result)) {
          return Promise.resolve(result).then(
            (value) => {
              outcomes.push([true, value]);
              return step();
            },
            (error: unknown) => {
              failed(error);
              return step();
            },
          );
        }
        outcomes.push([true, result]);
      }
      return outcomes;
    };
    return step();
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
