/**
 * RemoteFuture<T>: what `DeadpoolQueue#submit` returns. Awaitable like a
 * deadpool Future; it settles exactly once, from the queue's events (or when
 * the job cannot be added, or the queue closes), and a failure nobody awaits
 * never becomes an `unhandledRejection`. The queue moves it on; the future
 * only asks the queue to cancel or to read the job's state.
 */
import type { JobState } from 'bullmq';
import { checkCallback, runCallbacks, Settlement } from '../parent/settlement.js';

/** `cb(value, future)` for each value the task reports with `reportProgress`. */
export type RemoteProgressCallback<T> = (value: unknown, future: RemoteFuture<T>) => void;

/** @internal What a future asks of its queue. */
export interface RemoteHooks {
  cancel(future: RemoteFuture<unknown>, reason: unknown): Promise<boolean>;
  state(id: string): Promise<JobState | 'unknown'>;
}

const noop = (): void => {};

/** @internal The queue's side of a future. Set in RemoteFuture's static block. */
export let settleRemote: (future: RemoteFuture<unknown>, ok: boolean, value: unknown) => void;
/** @internal */
export let progressRemote: (future: RemoteFuture<unknown>, value: unknown) => void;

export class RemoteFuture<T = unknown> implements PromiseLike<T> {
  /** The job's id in Redis: the given `jobId`, or one made at submit. */
  readonly id: string;
  /** Resolves once Redis holds the job; rejects (as does the future) if it could not be added. */
  readonly added: Promise<void>;
  readonly #outcome = new Settlement<T>();
  #progress: RemoteProgressCallback<T>[] | undefined;
  readonly #hooks: RemoteHooks;

  /** @internal Futures are made by DeadpoolQueue. */
  constructor(hooks: RemoteHooks, id: string, added: Promise<void>) {
    this.#hooks = hooks;
    this.id = id;
    this.added = added;
    added.catch(noop);
  }

  static {
    settleRemote = (future, ok, value) => future.#settle(ok, value);
    progressRemote = (future, value) => future.#report(value);
  }

  /** True once the job's outcome (or the failure to add it) is known here. */
  done(): boolean {
    return this.#outcome.done;
  }

  /** The result; with `timeoutMs`, rejects with TimeoutError if not done by then (the job goes on). */
  result(timeoutMs?: number): Promise<T> {
    return this.#outcome.within(timeoutMs, `job ${this.id} was not done within ${timeoutMs} ms`);
  }

  /**
   * Cancel the job: a job not yet running is removed from the queue; a running
   * one has its process tree SIGKILLed on whichever machine runs it. Either
   * way it is not retried and the future rejects with CancelledError.
   * Resolves `false` when the job had already finished (or was never added).
   */
  cancel(reason?: unknown): Promise<boolean> {
    if (this.done()) return Promise.resolve(false);
    return this.#hooks.cancel(this as RemoteFuture<unknown>, reason);
  }

  /** `cb(value, future)` for each progress value the job reports from now on. */
  addProgressCallback(cb: RemoteProgressCallback<T>): void {
    checkCallback(cb);
    if (!this.done()) (this.#progress ??= []).push(cb);
  }

  /** BullMQ's state of the job now: 'waiting', 'active', 'completed', 'failed', ..., or 'unknown'. */
  state(): Promise<JobState | 'unknown'> {
    return this.#hooks.state(this.id);
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
    return 'RemoteFuture';
  }

  #settle(ok: boolean, value: unknown): void {
    if (this.#outcome.settle(ok, value)) this.#progress = undefined;
  }

  #report(value: unknown): void {
    if (this.done()) return;
    runCallbacks(this.#progress, [value, this], "remote future's progress");
  }
}
