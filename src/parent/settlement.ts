/**
 * The promise plumbing every deadpool future shares (the pool's Future and
 * the BullMQ adapter's RemoteFuture): a value settled once, a promise made
 * only when someone awaits (so a failure nobody awaits never exists as a
 * rejected promise, and never becomes an `unhandledRejection`), a bounded
 * wait, and callbacks whose throws are reported, never propagated.
 */
import { TimeoutError } from '../shared/errors.js';
import { invalid, numberError } from './validate.js';

/** One outcome, settled once; `promise()` gives it to awaiters. */
export class Settlement<T> {
  #done = false;
  #ok = false;
  #value: unknown;
  #promise: Promise<T> | undefined;
  #resolve: ((value: T) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;

  get done(): boolean {
    return this.#done;
  }

  /** Settle it; false (and nothing changes) if it was settled already. */
  settle(ok: boolean, value: unknown): boolean {
    if (this.#done) return false;
    this.#done = true;
    this.#ok = ok;
    this.#value = value;
    if (ok) this.#resolve?.(value as T);
    else this.#reject?.(value);
    this.#resolve = this.#reject = undefined;
    return true;
  }

  /** The promise of the outcome, made on first use. */
  promise(): Promise<T> {
    if (this.#promise === undefined) {
      if (this.#done) {
        // A task may throw a non-Error; it is delivered as thrown.
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        this.#promise = this.#ok ? Promise.resolve(this.#value as T) : Promise.reject(this.#value);
      } else {
        this.#promise = new Promise<T>((resolve, reject) => {
          this.#resolve = resolve;
          this.#reject = reject;
        });
      }
    }
    return this.#promise;
  }

  /**
   * The outcome, or a TimeoutError with `message` if it is not there within
   * `timeoutMs` (what it waits for goes on).
   */
  within(timeoutMs: number | undefined, message: string): Promise<T> {
    // Checked even when settled: a bad argument throws whenever it is given.
    if (
      timeoutMs !== undefined &&
      (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || !Number.isFinite(timeoutMs))
    ) {
      invalid('timeoutMs', 'a finite number >= 0', timeoutMs, numberError(timeoutMs));
    }
    if (timeoutMs === undefined || this.#done) return this.promise();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError(message)), timeoutMs);
      this.promise()
        .then(resolve, reject)
        .finally(() => clearTimeout(timer));
    });
  }
}

/** Call each callback with `args`; one that throws is reported as a warning and the rest still run. */
export function runCallbacks<A extends unknown[]>(
  list: readonly ((...args: A) => void)[] | undefined,
  args: A,
  what: string,
): void {
  if (!list) return;
  for (const cb of list) {
    try {
      cb(...args);
    } catch (error) {
      const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
      process.emitWarning(`a deadpool ${what} callback threw: ${detail}`, {
        code: 'DEADPOOL_CALLBACK',
      });
    }
  }
}

/** A callback argument: a function, else the one-template TypeError naming `cb`. */
export function checkCallback(cb: unknown): void {
  if (typeof cb !== 'function') invalid('cb', 'a function', cb);
}
