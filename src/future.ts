/**
 * Future<T>: the handle `submit` returns. Awaitable like a promise, with the
 * state and callbacks of `concurrent.futures.Future`. It settles exactly once;
 * a failure nobody awaits never becomes an `unhandledRejection`.
 */
import { CancelledError, TimeoutError } from './errors.js';

type State = 'pending' | 'running' | 'finished' | 'cancelled';
type Callback<T> = (future: Future<T>) => void;

/** What the pool does when a future asks to be cancelled. */
export interface CancelHooks {
  /** Remove a waiting task from the backlog. */
  dequeue(): void;
  /** SIGKILL the tree of the worker running this task (and only this task). */
  kill(): void;
}

/** The pool's side of a future: the only way to settle it. */
export interface FutureControl<T> {
  readonly future: Future<T>;
  /** True once settled (finished or cancelled). */
  readonly settled: boolean;
  start(pid: number): void;
  resolve(value: T): void;
  reject(error: unknown): void;
  cancel(error: CancelledError): void;
}

function report(error: unknown, what: string): void {
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.emitWarning(`a deadpool future's ${what} callback threw: ${detail}`, {
    code: 'DEADPOOL_CALLBACK',
  });
}

function runCallbacks<T>(list: Callback<T>[] | undefined, future: Future<T>, what: string): void {
  if (!list) return;
  for (const cb of list) {
    try {
      cb(future);
    } catch (error) {
      report(error, what);
    }
  }
}

let createControl: <T>(hooks: CancelHooks) => FutureControl<T>;

export class Future<T = unknown> implements PromiseLike<T> {
  #state: State = 'pending';
  #pid: number | undefined;
  #doneCallbacks: Callback<T>[] | undefined;
  #pidCallbacks: Callback<T>[] | undefined;
  #resolve!: (value: T) => void;
  #reject!: (error: unknown) => void;
  readonly #promise: Promise<T>;
  readonly #hooks: CancelHooks;

  /** @internal Futures are made by the pool. */
  private constructor(hooks: CancelHooks) {
    this.#hooks = hooks;
    this.#promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Awaiting surfaces the error; not awaiting must not crash the process.
    this.#promise.catch(() => {});
  }

  static {
    createControl = <T>(hooks: CancelHooks): FutureControl<T> => {
      const future = new Future<T>(hooks);
      return {
        future,
        get settled() {
          return future.done();
        },
        start: (pid) => future.#start(pid),
        resolve: (value) => future.#settle(true, value, undefined, 'finished'),
        reject: (error) => future.#settle(false, undefined, error, 'finished'),
        cancel: (error) => future.#settle(false, undefined, error, 'cancelled'),
      };
    };
  }

  /** The worker's pid once the task runs on it, else `undefined`. */
  get pid(): number | undefined {
    return this.#pid;
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

  /** Cancel a waiting task. `false` once it runs or has finished; `true` if already cancelled. */
  cancel(): boolean {
    if (this.#state === 'cancelled') return true;
    if (this.#state !== 'pending') return false;
    this.#hooks.dequeue();
    this.#settle(
      false,
      undefined,
      new CancelledError('the task was cancelled before it started'),
      'cancelled',
    );
    return true;
  }

  /** As `cancel()` for a waiting task; a running one has its worker's process tree SIGKILLed. */
  cancelAndKill(): boolean {
    if (this.#state === 'running') {
      this.#hooks.kill();
      return true;
    }
    return this.cancel();
  }

  /** `cb(future)` when it settles; at once if it has. */
  addDoneCallback(cb: Callback<T>): void {
    if (typeof cb !== 'function')
      throw new TypeError(`Expected \`cb\` to be a function, got \`${String(cb)}\``);
    if (this.done()) runCallbacks([cb], this, 'done');
    else (this.#doneCallbacks ??= []).push(cb);
  }

  /** `cb(future)` when it starts on a worker; at once if it has. */
  addPidCallback(cb: Callback<T>): void {
    if (typeof cb !== 'function')
      throw new TypeError(`Expected \`cb\` to be a function, got \`${String(cb)}\``);
    if (this.#pid !== undefined) runCallbacks([cb], this, 'pid');
    else (this.#pidCallbacks ??= []).push(cb);
  }

  /** The result; with `timeoutMs`, rejects with TimeoutError if not done by then (the task goes on). */
  result(timeoutMs?: number): Promise<T> {
    if (timeoutMs === undefined || this.done()) return this.#promise;
    checkWait(timeoutMs);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new TimeoutError(`the future was not done within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#promise.then(resolve, reject).finally(() => clearTimeout(timer));
    });
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
    return this.#promise.then(onfulfilled, onrejected);
  }

  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.#promise.catch(onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.#promise.finally(onfinally);
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
    runCallbacks(callbacks, this, 'pid');
  }

  #settle(ok: boolean, value: T | undefined, error: unknown, state: State): void {
    if (this.done()) return;
    this.#state = state;
    if (ok) this.#resolve(value as T);
    else this.#reject(error);
    const callbacks = this.#doneCallbacks;
    this.#doneCallbacks = undefined;
    this.#pidCallbacks = undefined;
    runCallbacks(callbacks, this, 'done');
  }
}

function checkWait(timeoutMs: number): void {
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) {
    throw new RangeError(
      `Expected \`timeoutMs\` to be a finite number >= 0, got \`${String(timeoutMs)}\` (${typeof timeoutMs})`,
    );
  }
}

/** @internal */
export function createFuture<T>(hooks: CancelHooks): FutureControl<T> {
  return createControl<T>(hooks);
}
