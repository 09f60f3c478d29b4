/**
 * `pool.stream`'s result: an async iterable of the values a generator task
 * yields, as they are produced, with the task's `future`. Back-pressure by
 * credits: the worker may run `highWaterMark` values ahead of the consumer,
 * and gets one more credit for each value the consumer takes (granted in
 * small batches). When the task ends, the values already delivered are still
 * read, then the loop ends, or throws the task's error. Leaving the loop
 * early asks the pool to stop the task (`StreamControl.stop`).
 */
import type { Future } from './future.js';

/** What the stream asks of the pool for its task. */
export interface StreamControl {
  /** The consumer took `n` values: the worker may produce `n` more. */
  credit(n: number): void;
  /** The consumer left: end the task (its generator's `return()`), or cancel it if it waits. */
  stop(): void;
}

interface Waiter {
  resolve: (step: IteratorResult<unknown, undefined>) => void;
  reject: (error: unknown) => void;
}

export class TaskStream<T> implements AsyncIterableIterator<T, undefined> {
  /** The task: settles when it ends (with the generator's return value). */
  readonly future: Future<unknown>;
  readonly highWaterMark: number;
  readonly #control: StreamControl;
  #buffer: unknown[] = [];
  #ended = false;
  #failed = false;
  #error: unknown;
  #waiter: Waiter | undefined;
  /** Values taken since the last credit was granted. */
  #taken = 0;

  /** @internal Made by the pool. */
  constructor(future: Future<unknown>, highWaterMark: number, control: StreamControl) {
    this.future = future;
    this.highWaterMark = highWaterMark;
    this.#control = control;
  }

  /** Values received and not yet read. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** @internal The worker sent a value. */
  push(value: unknown): void {
    if (this.#ended) return;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      this.#took();
      waiter.resolve({ value, done: false });
    } else {
      this.#buffer.push(value);
    }
  }

  /** @internal The task settled: what is buffered is still read, then the end (or the error). */
  end(ok: boolean, error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#failed = !ok;
    this.#error = error;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (!waiter) return;
    if (ok) waiter.resolve({ value: undefined, done: true });
    else waiter.reject(error);
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#buffer.length > 0) {
      const value = this.#buffer.shift();
      this.#took();
      return Promise.resolve({ value: value as T, done: false });
    }
    if (this.#ended) {
      if (!this.#failed) return Promise.resolve({ value: undefined, done: true });
      const error = this.#error;
      this.#failed = false; // thrown once; later reads see the end
      // A task may throw a non-Error; it is delivered as thrown.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return Promise.reject(error);
    }
    if (this.#waiter) return Promise.reject(new TypeError('a stream is read one value at a time'));
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve: resolve as Waiter['resolve'], reject };
    });
  }

  /** Leaving the loop early: the pool ends the task; nothing more is read. */
  return(): Promise<IteratorResult<T, undefined>> {
    if (!this.#ended) {
      this.#ended = true;
      this.#buffer = [];
      this.#control.stop();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  get [Symbol.toStringTag](): string {
    return 'TaskStream';
  }

  /** One value was taken: grant credits back in batches of a quarter of the high-water mark. */
  #took(): void {
    this.#taken++;
    if (this.#taken < Math.max(1, this.highWaterMark >> 2)) return;
    this.#control.credit(this.#taken);
    this.#taken = 0;
  }
}
