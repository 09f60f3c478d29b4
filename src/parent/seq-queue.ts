/**
 * One tenant's waiting tasks of one priority, in submission order (`seq`):
 * a deque, since tasks mostly arrive in that order (O(1) to add and to take);
 * a task put back keeps its earlier place (a binary search and a splice, the
 * rare case). Removal is lazy: an entry is flagged and skipped when it
 * reaches the front. A queued item holds its entry while it waits (and only
 * then), so the queue needs no map from items to entries. Priorities and
 * tenants are fair-queue.ts's.
 */
export interface Entry {
  readonly value: unknown;
  readonly seq: number;
  removed: boolean;
  readonly queued: Queued;
}

/**
 * What the backlog holds: anything with a priority, a submission order
 * (`seq`: a task put back keeps its place) and room for its queue entry,
 * set while it waits, undefined otherwise.
 */
export interface Queued {
  readonly priority: number;
  readonly seq: number;
  entry?: Entry | undefined;
}

/** Entries taken from the front are cut off once this many have piled up (and half the array is dead). */
const COMPACT_AT = 1024;

export class SeqQueue<T> {
  #entries: Entry[] = [];
  /** Index of the first entry not yet taken. */
  #head = 0;
  #live = 0;

  get size(): number {
    return this.#live;
  }

  /** Add `value`, in the place of `queued` (which gets its entry). */
  enqueue(value: T, queued: Queued): void {
    const entry: Entry = { value, seq: queued.seq, removed: false, queued };
    queued.entry = entry;
    const entries = this.#entries;
    const n = entries.length;
    if (n === this.#head || entries[n - 1]!.seq < entry.seq) entries.push(entry);
    else {
      // Put back: before the first entry submitted after it.
      let lo = this.#head;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (entries[mid]!.seq < entry.seq) lo = mid + 1;
        else hi = mid;
      }
      entries.splice(lo, 0, entry);
    }
    this.#live++;
  }

  /** Take the first live entry's value. */
  dequeue(): T | undefined {
    const entry = this.#front();
    if (entry === undefined) return undefined;
    this.#head++;
    this.#live--;
    entry.queued.entry = undefined;
    this.#compact();
    return entry.value as T;
  }

  /** The first live entry's value, without taking it. */
  peek(): T | undefined {
    return this.#front()?.value as T | undefined;
  }

  /** Flag an entry as removed; it is dropped when it reaches the front. False if it was already. */
  discard(entry: Entry): boolean {
    if (entry.removed) return false;
    entry.removed = true;
    if (entry.queued.entry === entry) entry.queued.entry = undefined;
    this.#live--;
    if (this.#live === 0) {
      this.#entries = [];
      this.#head = 0;
    }
    return true;
  }

  /** Push every live value onto `into`. */
  collect(into: unknown[]): void {
    const entries = this.#entries;
    for (let i = this.#head; i < entries.length; i++) {
      const entry = entries[i]!;
      if (!entry.removed) into.push(entry.value);
    }
  }

  #front(): Entry | undefined {
    const entries = this.#entries;
    while (this.#head < entries.length && entries[this.#head]!.removed) this.#head++;
    return entries[this.#head];
  }

  #compact(): void {
    const head = this.#head;
    if (head >= COMPACT_AT && head * 2 >= this.#entries.length) {
      this.#entries = this.#entries.slice(head);
      this.#head = 0;
    }
  }
}
