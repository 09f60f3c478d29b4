/**
 * The priority backlog: p-queue, with a binary heap behind it (p-queue's
 * default queue is a sorted array, O(n) per out-of-order insert). p-queue's
 * concurrency is kept equal to the number of workers that can take a task, so
 * it starts a job exactly when a worker is idle, and always the best waiting
 * one at that moment: lowest `priority` number first, submission order within
 * a priority. Tasks queued ahead inside busy workers are taken from the top
 * of the same heap (`peek`, `remove`), so they follow the same order.
 */
import PQueue from 'p-queue';
import type { QueueAddOptions } from 'p-queue';

type Run = () => Promise<unknown>;

interface Entry {
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

type AddOptions = QueueAddOptions & { queued?: Queued };

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

/** What the backlog orders: a priority and a submission order (`seq`; a task put back keeps it). */
export interface Ranked {
  readonly priority: number;
  readonly seq: number;
}

/** A job's place in the heap; the backlog keeps it, the job carries nothing. */
interface Holder<J> extends Queued {
  readonly job: J;
}

export class Backlog<J extends Ranked> {
  readonly #queue: PQueue;
  readonly #heap = new TaskHeap();
  readonly #start: (job: J) => Promise<void>;
  readonly #shrunk: () => void;
  /** Every waiting job and its place in the heap. */
  readonly #waiting = new Map<J, Holder<J>>();

  /**
   * `start(job)` is called when a slot is free; its promise settles when the
   * slot is free again. `shrunk()` after a job leaves the backlog.
   */
  constructor(start: (job: J) => Promise<void>, shrunk: () => void = () => {}) {
    this.#start = start;
    this.#shrunk = shrunk;
    const heap = this.#heap;
    // p-queue makes its queue itself; this one hands every call to the backlog's heap.
    class Queue {
      get size(): number {
        return heap.size;
      }
      enqueue(run: Run, options?: Partial<AddOptions>): void {
        heap.enqueue(run, options);
      }
      dequeue(): Run | undefined {
        return heap.dequeue();
      }
      filter(): Run[] {
        return heap.filter();
      }
      setPriority(): void {
        heap.setPriority();
      }
    }
    this.#queue = new PQueue({ autoStart: false, concurrency: 1, queueClass: Queue });
  }

  get size(): number {
    return this.#heap.size;
  }

  /** Set how many slots there are: p-queue starts a job while fewer are taken. */
  setSlots(slots: number): void {
    if (slots <= 0) {
      this.#queue.pause();
      return;
    }
    if (this.#queue.concurrency !== slots) this.#queue.concurrency = slots;
    this.#queue.start();
  }

  add(job: J): void {
    const holder: Holder<J> = { priority: job.priority, seq: job.seq, job };
    this.#waiting.set(job, holder);
    const options: AddOptions = { priority: -job.priority, id: '', queued: holder };
    void this.#queue.add(() => this.#take(job), options);
  }

  #take(job: J): Promise<void> {
    this.#waiting.delete(job);
    this.#shrunk();
    return this.#start(job);
  }

  /** Take a waiting job out. False if it is not waiting. */
  remove(job: J): boolean {
    const entry = this.#waiting.get(job)?.entry;
    if (entry === undefined || !this.#heap.discard(entry)) return false;
    this.#waiting.delete(job);
    this.#shrunk();
    return true;
  }

  /** Take the waiting job `peek()` showed, to run it elsewhere (pipelining). */
  take(job: J): boolean {
    return this.remove(job);
  }

  /** The best waiting job, without taking it. */
  peek(): J | undefined {
    return (this.#heap.peek() as Holder<J> | undefined)?.job;
  }

  /** Take every waiting job out, in no particular order. */
  drain(): J[] {
    const jobs = [...this.#waiting.keys()];
    for (const job of jobs) this.remove(job);
    return jobs;
  }
}
