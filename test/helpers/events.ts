/**
 * Waiting without sleeping: on a pool's events, a future's pid callback, a
 * polled condition with a bound, or progress of a set of futures.
 */
import type { Deadpool, DeadpoolEvents, Future } from '../../dist/index.js';

/** Poll `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 10, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`waitFor: ${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

type Payload<E extends keyof DeadpoolEvents> = DeadpoolEvents[E][0];

/** Every payload of `event` the pool emits from now on, in order. */
export function record<E extends keyof DeadpoolEvents>(pool: Deadpool, event: E): Payload<E>[] {
  const seen: Payload<E>[] = [];
  const listener = (payload: Payload<E>): void => void seen.push(payload);
  pool.on(event, listener as never);
  return seen;
}

/** The next `event` whose payload satisfies `match`; rejects after `timeoutMs`. */
export function nextEvent<E extends keyof DeadpoolEvents>(
  pool: Deadpool,
  event: E,
  match: (payload: Payload<E>) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<Payload<E>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pool.off(event, listener as never);
      reject(new Error(`no matching '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (payload: Payload<E>): void => {
      if (!match(payload)) return;
      clearTimeout(timer);
      pool.off(event, listener as never);
      resolve(payload);
    };
    pool.on(event, listener as never);
  });
}

/** Resolves with the worker pid once `future` runs on a worker (its pid callback). */
export function started(future: Future<unknown>): Promise<number> {
  return new Promise((resolve) => {
    future.addPidCallback((f) => resolve(f.pid!));
  });
}

/** The reason `promise` rejects with; fails if it resolves instead. */
export async function rejection(promise: PromiseLike<unknown>): Promise<unknown> {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    return error;
  }
  throw new Error(`expected a rejection, got the value ${JSON.stringify(value)}`);
}

/** Races `promise` against a bounded wait, so a hang fails with a message instead of the test timeout. */
export function within<T>(promise: PromiseLike<T>, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} did not happen within ${timeoutMs} ms`)),
      timeoutMs,
    );
    Promise.resolve(promise).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/**
 * Settles like `Promise.allSettled(futures)`, but fails as soon as none of
 * them has settled for `stallMs`: a hang is caught without betting on how fast
 * a loaded machine gets through the whole set. `describe()` adds state to the error.
 */
export function allSettledWithProgress<T>(
  futures: readonly Future<T>[],
  { stallMs = 15_000, what = 'futures', describe = (): string => '' } = {},
): Promise<PromiseSettledResult<T>[]> {
  return new Promise((resolve, reject) => {
    let settled = 0;
    let lastProgress = Date.now();
    const timer = setInterval(() => {
      if (Date.now() - lastProgress < stallMs) return;
      clearInterval(timer);
      reject(
        new Error(
          `${what}: no progress for ${stallMs} ms (${settled} of ${futures.length} settled) ${describe()}`,
        ),
      );
    }, 250);
    for (const future of futures) {
      future.addDoneCallback(() => {
        settled++;
        lastProgress = Date.now();
        if (settled === futures.length) clearInterval(timer);
      });
    }
    Promise.allSettled(futures).then(resolve, reject);
  });
}

/**
 * One pass of the event loop, no timer: every callback already due
 * (microtasks, I/O, immediates) has run. For a negative check whose only
 * possible cause would already be due; anything that needs a worker to act
 * waits on that worker's event instead.
 */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
