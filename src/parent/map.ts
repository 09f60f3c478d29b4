/**
 * `pool.map`: results in input order (or, with `ordered: false`, in the order
 * they complete), the input read lazily with a bounded number of tasks in
 * flight, so an endless input runs in constant memory.
 *
 * Items travel in batches (several per message) once tasks prove short: the
 * batch size is chosen so a batch runs for about 2 ms, and is held down when
 * an async input is slow to produce. Each item keeps its own result, error
 * and position. With a per-task `timeout`, items travel one per message so
 * each one has its own deadline.
 *
 * Each batch is one task in the pool's backlog: when `maxBacklog` tasks
 * already wait, the map waits for room (`plan.room`) before submitting,
 * rather than failing with BacklogFullError. Room always comes, whatever the
 * map's own window: the pool's workers empty the backlog without waiting for
 * the map's consumer.
 */
import { CancelledError } from '../shared/errors.js';
import type { Outcome } from '../shared/protocol.js';
import type { Future } from './future.js';

export interface MapPlan {
  /** Queue a batch: one argument list per item. */
  submit(items: unknown[][]): Future<Outcome<unknown>[]>;
  /**
   * Undefined when `submit` may be called now (or would throw whatever the
   * wait: a closed pool, `maxBacklog` 0); else resolves once the backlog may
   * have room for a batch (ask again: another producer may take it first).
   */
  room(): Promise<void> | undefined;
  /** Batches in flight at most. */
  maxBatches: number;
  /** False when each item needs its own deadline. */
  batching: boolean;
  /** Results in input order (true), or as they complete. */
  ordered: boolean;
  /**
   * Once aborted, the iteration throws CancelledError at its next step, even
   * when the remaining items had already finished.
   */
  signal?: AbortSignal | undefined;
}

const TARGET_BATCH_MS = 2;
const MAX_BATCH = 256;
/** An async input slower than this per item keeps batches small. */
const TARGET_FILL_MS = 0.5;

/** Resolves when `promise` does, or at once when `signal` aborts (check it after). */
function unlessAborted(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return promise;
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = (): void => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

interface InFlight {
  future: Future<Outcome<unknown>[]>;
  size: number;
  startedAt: number;
}

export async function* mapItems<R>(
  plan: MapPlan,
  input: Iterable<unknown> | AsyncIterable<unknown>,
): AsyncGenerator<R, void, undefined> {
  // Not `in`: the input may be a string.
  const isAsync =
    typeof (input as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function';
  const iterator = isAsync
    ? (input as AsyncIterable<unknown>)[Symbol.asyncIterator]()
    : (input as Iterable<unknown>)[Symbol.iterator]();
  const inFlight: InFlight[] = [];
  // Unordered: batches whose futures settled, in the order they did.
  const settled: InFlight[] = [];
  let wake: (() => void) | undefined;
  const next = async (): Promise<InFlight> => {
    if (plan.ordered) return inFlight.shift()!;
    while (settled.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    const entry = settled.shift()!;
    inFlight.splice(inFlight.indexOf(entry), 1);
    return entry;
  };
  let size = 1;
  let fillMs = 0; // average wait per item of an async input
  let exhausted = false;
  const { signal } = plan;
  const checkSignal = () => {
    if (signal?.aborted) {
      throw new CancelledError('map was cancelled by its signal', { cause: signal.reason });
    }
  };
  try {
    for (;;) {
      checkSignal();
      while (!exhausted && inFlight.length < plan.maxBatches) {
        const items: unknown[][] = [];
        const limit =
          isAsync && fillMs > 0 ? Math.max(1, Math.min(size, TARGET_FILL_MS / fillMs)) : size;
        while (items.length < limit) {
          const before = isAsync ? performance.now() : 0;
          const next = isAsync
            ? await iterator.next()
            : (iterator.next() as IteratorResult<unknown>);
          if (isAsync) fillMs = fillMs * 0.8 + (performance.now() - before) * 0.2;
          if (next.done) {
            exhausted = true;
            break;
          }
          items.push([next.value]);
        }
        if (items.length === 0) break;
        // The batch's items are read: an abort while waiting drops them unsubmitted.
        for (let room = plan.room(); room !== undefined; room = plan.room()) {
          await unlessAborted(room, signal);
          checkSignal();
        }
        const entry: InFlight = { future: plan.submit(items), size: items.length, startedAt: 0 };
        entry.future.addPidCallback(() => (entry.startedAt = performance.now()));
        if (!plan.ordered) {
          entry.future.addDoneCallback(() => {
            settled.push(entry);
            wake?.();
          });
        }
        inFlight.push(entry);
      }
      if (inFlight.length === 0) return;
      const head = await next();
      const outcomes = await head.future;
      if (plan.batching && head.startedAt > 0) {
        const perItem = Math.max((performance.now() - head.startedAt) / head.size, 0.001);
        size = Math.max(1, Math.min(MAX_BATCH, size * 4, Math.round(TARGET_BATCH_MS / perItem)));
      }
      for (const [ok, value] of outcomes) {
        checkSignal();
        if (!ok) throw value;
        yield value as R;
      }
    }
  } finally {
    // Leaving early (break, a failure, return): waiting tasks are cancelled,
    // running ones finish and their results are dropped.
    for (const { future } of inFlight) future.cancel();
    if (!exhausted) await iterator.return?.();
  }
}
