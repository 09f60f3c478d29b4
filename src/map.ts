/**
 * `pool.map`: results in input order, the input read lazily with a bounded
 * number of tasks in flight, so an endless input runs in constant memory.
 */
import type { Future } from './future.js';

export type Submit<R> = (item: unknown) => Future<R>;

export async function* mapOrdered<R>(
  submit: Submit<R>,
  input: Iterable<unknown> | AsyncIterable<unknown>,
  window: number,
): AsyncGenerator<R, void, undefined> {
  const iterator =
    Symbol.asyncIterator in input ? input[Symbol.asyncIterator]() : input[Symbol.iterator]();
  const inFlight: Future<R>[] = [];
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && inFlight.length < window) {
        const next = await iterator.next();
        if (next.done) exhausted = true;
        else inFlight.push(submit(next.value));
      }
      const head = inFlight.shift();
      if (head === undefined) return;
      yield await head;
    }
  } finally {
    // Leaving early (break, a failure, return): waiting tasks are cancelled,
    // running ones finish and their results are dropped.
    for (const future of inFlight) future.cancel();
    if (!exhausted) await iterator.return?.();
  }
}
