/**
 * Child side of a task that returns an async iterable (an async generator):
 * for `pool.stream`, send each value as it is produced, never more than the
 * credits the consumer has granted (its highWaterMark, then one per value it
 * took), and call the iterator's `return()` when the consumer leaves; for
 * `submit`, collect the values into an array. The runner decides what the
 * task's result is; this only drives the iterator. A streamed task that is
 * not a generator yields its result once (`single`).
 */

/** What a value-producing task returned: an async iterable, or a sync generator. */
export function isIterated(value: unknown): value is AsyncIterable<unknown> | Iterator<unknown> {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  if (typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') return true;
  return Object.prototype.toString.call(value) === '[object Generator]';
}

/**
 * A task given to `pool.stream` that is not a generator: its result (awaited)
 * as the one value it yields, and as its return value, which the future gets.
 */
export async function* single(result: unknown): AsyncGenerator<unknown, unknown, undefined> {
  const value: unknown = await result;
  yield value;
  return value;
}

/** The flow control of one streamed task, steered by the pool's 'credit' and 'stop' messages. */
export class Credits {
  #credits: number;
  #stopped = false;
  #wake: (() => void) | undefined;

  constructor(highWaterMark: number) {
    this.#credits = highWaterMark;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  grant(n: number): void {
    this.#credits += n;
    this.#wake?.();
  }

  stop(): void {
    this.#stopped = true;
    this.#wake?.();
  }

  /** Resolves once a value may be sent, or the consumer left. */
  async ready(): Promise<void> {
    while (this.#credits <= 0 && !this.#stopped) {
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }

  spend(): void {
    this.#credits--;
  }
}

/**
 * Drive `iterable`: with `credits`, `emit` each value as credits allow and
 * return the iterator's return value; without, collect the values and return
 * them. A consumer that left gets the iterator's `return()` (its `finally`
 * blocks run).
 */
export async function drive(
  iterable: AsyncIterable<unknown> | Iterator<unknown>,
  credits: Credits | undefined,
  emit: (value: unknown) => void,
): Promise<unknown> {
  const iterator = Symbol.asyncIterator in iterable ? iterable[Symbol.asyncIterator]() : iterable;
  const values: unknown[] = [];
  for (;;) {
    if (credits) {
      await credits.ready();
      if (credits.stopped) {
        const end = await iterator.return?.();
        return end?.value;
      }
    }
    const step = await iterator.next();
    if (step.done) return credits ? step.value : values;
    if (!credits) {
      values.push(step.value);
      continue;
    }
    try {
      emit(step.value);
    } catch (error) {
      await iterator.return?.();
      throw error;
    }
    credits.spend();
  }
}
