/**
 * A binary min-heap on (-rank, seq) with lazy removal: the order of one
 * tenant's waiting tasks in the backlog (p-queue's default queue is a sorted
 * array, O(n) per out-of-order insert).
 */
import type { QueueAddOptions } from 'p-queue';

type Run = () => Promise<unknown>;

export interface Entry {
  run: Run;
  rank: number; // p-queue priority: higher runs first
  seq: number;
  removed: boolean;
  queued: Queued | undefined;
}

/**
 * What the backlog holds: anything with a priority, a submission order
 * (`seq`: a task put back keeps its place) and room for its heap entry.
 */
export interface Queued {
  readonly priority: number;
  readonly seq: number;
  entry?: Entry | undefined;
}

export type AddOptions = QueueAddOptions & { queued?: Queued };

/** Min-heap on (-rank, seq). Removal is lazy: an entry is flagged and skipped on dequeue. */
export class TaskHeap {
  readonly #heap: Entry[] = [];
  #seq = 0;
  #live = 0;

  get size(): number {
    return this.#live;
  }

  enqueue(run: Run, options?: Partial<AddOptions>): void {
    const queued = options?.queued;
    const seq = queued ? queued.seq : this.#seq++;
    const entry: Entry = { run, rank: options?.priority ?? 0, seq, removed: false, queued };
    if (queued) queued.entry = entry;
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
    this.#live++;
  }

  dequeue(): Run | undefined {
    for (;;) {
      const top = this.#pop();
      if (top === undefined) return undefined;
      if (!top.removed) {
        this.#live--;
        return top.run;
      }
    }
  }

  /** The best live entry's item, without taking it. */
  peek(): Queued | undefined {
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]!.removed) this.#pop();
    return heap[0]?.queued;
  }

  /** Flag an entry as removed; it is dropped when it reaches the top. */
  discard(entry: Entry): boolean {
    if (entry.removed) return false;
    entry.removed = true;
    this.#live--;
    if (this.#live === 0) this.#heap.length = 0;
    return true;
  }

  filter(): Run[] {
    return this.#heap.filter((entry) => !entry.removed).map((entry) => entry.run);
  }

  setPriority(): void {
    throw new Error('deadpool does not reprioritise waiting tasks');
  }

  #pop(): Entry | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.rank !== b.rank ? a.rank > b.rank : a.seq < b.seq;
}
