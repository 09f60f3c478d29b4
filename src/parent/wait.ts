/**
 * `asCompleted` and `wait`, as in `concurrent.futures`: futures in completion
 * order, and waiting for the first, the first failure, or all of them.
 */
import { TimeoutError } from '../shared/errors.js';
import type { Future } from './future.js';
import { duration, invalid, optionsOf } from './validate.js';

export type ReturnWhen = 'FIRST_COMPLETED' | 'FIRST_EXCEPTION' | 'ALL_COMPLETED';

export interface WaitResult<T> {
  done: Set<Future<T>>;
  notDone: Set<Future<T>>;
}

const AS_COMPLETED_KEYS: readonly string[] = ['timeout'];
const WAIT_KEYS: readonly string[] = ['timeout', 'returnWhen'];
const RETURN_WHEN: readonly string[] = ['FIRST_COMPLETED', 'FIRST_EXCEPTION', 'ALL_COMPLETED'];

/** A pool's Future (from any copy of the package): what `watch` and `wait` call on it. */
function isFuture(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const { then, done, cancelled } = value as Partial<Future<unknown>>;
  return (
    typeof then === 'function' && typeof done === 'function' && typeof cancelled === 'function'
  );
}

/** The futures of `futures`, read once; anything but an iterable of futures is a TypeError. */
function futuresOf<T>(futures: unknown): Set<Future<T>> {
  if (
    futures == null ||
    typeof (futures as Partial<Iterable<unknown>>)[Symbol.iterator] !== 'function'
  ) {
    invalid('futures', 'an iterable of futures', futures);
  }
  const all = new Set<Future<T>>();
  let i = 0;
  for (const future of futures as Iterable<unknown>) {
    if (!isFuture(future)) invalid(`futures[${i}]`, 'a Future', future);
    all.add(future as Future<T>);
    i++;
  }
  return all;
}

/** Calls `onSettle(future, failed)` once per future; `failed` excludes cancellation. */
function watch<T>(
  futures: Set<Future<T>>,
  onSettle: (future: Future<T>, failed: boolean) => void,
): void {
  for (const future of futures) {
    future.then(
      () => onSettle(future, false),
      () => onSettle(future, !future.cancelled()),
    );
  }
}

/**
 * Yields each future as it completes. With `timeout` (ms), the iterator throws
 * TimeoutError if they are not all done by then. (Not an async generator: it
 * would await each yielded future and give its result instead of the future.)
 */
export function asCompleted<T>(
  futures: Iterable<Future<T>>,
  options?: { timeout?: number },
): AsyncIterableIterator<Future<T>> {
  const pending = futuresOf<T>(futures);
  optionsOf('asCompleted()', 'options', options, AS_COMPLETED_KEYS);
  const timeout = duration('timeout', options?.timeout);
  const total = pending.size;
  const ready: Future<T>[] = [];
  let wake: (() => void) | undefined;
  watch(pending, (future) => {
    ready.push(future);
    wake?.();
  });
  const deadline = timeout === undefined ? Infinity : performance.now() + timeout;
  let yielded = 0;
  const next = async (): Promise<IteratorResult<Future<T>, undefined>> => {
    while (yielded < total) {
      const future = ready.shift();
      if (future !== undefined) {
        yielded++;
        return { value: future, done: false };
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        const missing = total - yielded;
        yielded = total;
        throw new TimeoutError(`${missing} of ${total} futures were not done within ${timeout} ms`);
      }
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (left !== Infinity) timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      wake = undefined;
    }
    return { value: undefined, done: true };
  };
  return {
    next,
    return: () => {
      yielded = total;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** Waits as `returnWhen` says (default ALL_COMPLETED) or until `timeout` ms pass; never rejects. */
export function wait<T>(
  futures: Iterable<Future<T>>,
  options?: { timeout?: number; returnWhen?: ReturnWhen },
): Promise<WaitResult<T>> {
  const all = futuresOf<T>(futures);
  optionsOf('wait()', 'options', options, WAIT_KEYS);
  const timeout = duration('timeout', options?.timeout);
  const returnWhen = options?.returnWhen ?? 'ALL_COMPLETED';
  if (!RETURN_WHEN.includes(returnWhen)) {
    invalid('returnWhen', "'FIRST_COMPLETED', 'FIRST_EXCEPTION' or 'ALL_COMPLETED'", returnWhen);
  }
  const split = (): WaitResult<T> => {
    const done = new Set<Future<T>>();
    const notDone = new Set<Future<T>>();
    for (const future of all) (future.done() ? done : notDone).add(future);
    return { done, notDone };
  };
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve(split());
    };
    let left = all.size;
    if (left === 0) return finish();
    // A future that already failed counts for FIRST_EXCEPTION too: checked as callbacks arrive.
    watch(all, (_future, failed) => {
      left--;
      if (
        returnWhen === 'FIRST_COMPLETED' ||
        left === 0 ||
        (returnWhen === 'FIRST_EXCEPTION' && failed)
      )
        finish();
    });
    if (timeout !== undefined) timer = setTimeout(finish, timeout);
  });
}
