/**
 * Future<T>: the handle `submit` returns. Awaitable like a promise, with the
 * state and callbacks of `concurrent.futures.Future`. It settles exactly once;
 * a failure nobody awaits never becomes an `unhandledRejection`.
 */
import { NO_USAGE, type TaskUsage } from './containment/usage.js';
import { checkCallback, runCallbacks, Settlement } from './settlement.js';

type State = 'pending' | 'running' | 'finished' | 'cancelled';
type Callback<T> = (future: Future<T>) => void;
/**
 * Receives each value the task passes to `reportProgress`, with the future.
 * `P` is the type the caller expects the values to have: it is not checked
 * at run time (the values are structured clones of what the task sent), so
 * keep it in step with the task's `reportProgress` calls. @default unknown
 */
export type ProgressCallback<T = unknown, P = unknown> = (value: P, future: Future<T>) => void;

/** @internal What the pool does when a future asks to be cancelled; shared by all its futures. */
export interface CancelHooks<Token> {
  /**
   * Cancel a task that has not started, settling its future; false if it
   * cannot be (it is being handed to a worker, and `kill` is false).
   */
  cancel(token: Token, kill: boolean): boolean;
  /** SIGKILL the tree of the worker running this task (and only this task). */
  kill(token: Token): void;
}

/**
 * @internal The pool's side of a future: the only ways to move it on. Set in
 * Future's static block.
 */
export let startFuture: (future: Future<unknown>, pid: number) => void;
/** @internal */
export let progressFuture: (future: Future<unknown>, value: unknown) => void;
/** @internal */
export let usageFuture: (future: Future<unknown>, usage: TaskUsage) => void;
/** @internal */
export let settleFuture: (
  future: Future<unknown>,
  ok: boolean,
  value: unknown,
  cancelled?: boolean,
) => void;

export class Future<T = unknown> implements PromiseLike<T> {
  #state: State = 'pending';
  #pid: number | undefined;
  #usage: TaskUsage | undefined;
  #doneCallbacks: Callback<T>[] | undefined;
  #pidCallbacks: Callback<T>[] | undefined;
  #progressCallbacks: ProgressCallback<T>[] | undefined;
  readonly #outcome = new Settlement<T>();
  readonly #hooks: CancelHooks<unknown>;
  readonly #token: unknown;

  /** @internal Futures are made by the pool. */
  constructor(hooks: CancelHooks<unknown>, token: unknown) {
    this.#hooks = hooks;
    this.#token = token;
  }

  static {
    startFuture = (future, pid) => future.#start(pid);
    progressFuture = (future, value) => future.#progress(value);
    usageFuture = (future, usage) => {
      if (!future.done()) future.#usage = usage;
    };
    settleFuture = (future, ok, value, cancelled = false) =>
      future.#settle(ok, value, cancelled ? 'cancelled' : 'finished');
  }

  /** The worker's pid once the task runs on it, else `undefined`. */
  get pid(): number | undefined {
    return this.#pid;
  }

  /**
   * Once settled: the CPU time and peak memory of the task's run, counting
   * every process it started where the kernel contains the worker (see
   * docs/containment.md); zeros for a task that never ran. Undefined before.
   */
  get usage(): TaskUsage | undefined {
    return this.#usage ?? (this.done() ? NO_USAGE : undefined);
  }

  running(): boolean {
    return this.#state === 'running';
  }

  done(): boolean {
    return this.#state === 'finished' || this.#state === 'cancelled';
  }

  cancelled(): boolean {
    return this.#state === 'cancelled';
  }

  /**
   * Cancel a task that has not been handed to a worker: it never runs, and
   * the future rejects with CancelledError. Returns `true` if the task is
   * cancelled (now or before), `false` once it has been handed to a worker
   * or has finished; a running task is never stopped by `cancel()`.
   *
   * A task submitted while a worker is idle is handed to that worker at once,
   * inside `submit()`: it is already running for `cancel()`, even though
   * `running()` stays `false` until the worker reports the start. So
   * `cancel()` right after `submit()` may return `false`, and the task runs
   * to its end. To stop it whatever its state, use `cancelAndKill()` or the
   * `signal` option. A task queued inside a busy worker ahead of time still
   * counts as waiting: `cancel()` returns `true` for it.
   */
  cancel(): boolean {
    if (this.#state === 'cancelled') return true;
    if (this.#state !== 'pending') return false;
    return this.#hooks.cancel(this.#token, false);
  }

  /** As `cancel()` for a waiting task; a running one has its worker's process tree SIGKILLed. */
  cancelAndKill(): boolean {
    if (this.#state === 'running') {
      this.#hooks.kill(this.#token);
      return true;
    }
    if (this.#state === 'pending') return this.#hooks.cancel(this.#token, true);
    return this.cancel();
  }

  /** `cb(future)` when it settles; at once if it has. */
  addDoneCallback(cb: Callback<T>): void {
    checkCallback(cb);
    if (this.done()) runCallbacks([cb], [this], "future's done");
    else (this.#doneCallbacks ??= []).push(cb);
  }

  /** `cb(future)` when it starts on a worker; at once if it has. */
  addPidCallback(cb: Callback<T>): void {
    checkCallback(cb);
    if (this.#pid !== undefined) runCallbacks([cb], [this], "future's pid");
    else (this.#pidCallbacks ??= []).push(cb);
  }

  /**
   * `cb(value, future)` for each value the task reports with `reportProgress`
   * from now on, in order, before the future settles. Annotate `value` to
   * type it (`(value: { percent: number }) => ...`); it is `unknown` otherwise.
   */
  addProgressCallback<P = unknown>(cb: ProgressCallback<T, P>): void {
    checkCallback(cb);
    // The value's type is the caller's word (see ProgressCallback).
    if (!this.done()) (this.#progressCallbacks ??= []).push(cb as ProgressCallback<T>);
  }

  /** The result; with `timeoutMs`, rejects with TimeoutError if not done by then (the task goes on). */
  result(timeoutMs?: number): Promise<T> {
    return this.#outcome.within(timeoutMs, `the future was not done within ${timeoutMs} ms`);
  }

  /** The error the task failed with, `undefined` if it succeeded. Same timeout rule as `result`. */
  exception(timeoutMs?: number): Promise<Error | undefined> {
    return this.result(timeoutMs).then(
      () => undefined,
      (error: unknown) => {
        if (!this.done()) throw error; // result(ms) timed out
        return error as Error;
      },
    );
  }

  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#outcome.promise().then(onfulfilled, onrejected);
  }

  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.#outcome.promise().catch(onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.#outcome.promise().finally(onfinally);
  }

  get [Symbol.toStringTag](): string {
    return 'Future';
  }

  #start(pid: number): void {
    if (this.#state !== 'pending') return;
    this.#state = 'running';
    this.#pid = pid;
    const callbacks = this.#pidCallbacks;
    this.#pidCallbacks = undefined;
    runCallbacks(callbacks, [this], "future's pid");
  }

  #progress(value: unknown): void {
    const callbacks = this.#progressCallbacks;
    if (callbacks === undefined || this.done()) return;
    runCallbacks(callbacks, [value, this], "future's progress");
  }

  #settle(ok: boolean, value: unknown, state: State): void {
    if (this.done()) return;
    this.#state = state;
    this.#outcome.settle(ok, value);
    const callbacks = this.#doneCallbacks;
    this.#doneCallbacks = undefined;
    this.#pidCallbacks = undefined;
    this.#progressCallbacks = undefined;
    runCallbacks(callbacks, [this], "future's done");
  }
}
