/**
 * One tenant's waiting tasks of one priority, in submission order (`seq`):
 * a deque, since tasks mostly arrive in that order (O(1) to add and to take);
 * a task put back keeps its earlier place (a binary search and a splice, the
 * rare case). Removal is lazy: a removed item's slot is skipped when it
 * reaches the front.
 *
 * Each enqueue stamps the item with a number never given before, which the
 * item bears while it waits (and only then) and its slot keeps: a slot is
 * live while its item still bears the slot's stamp. So the queue needs no map
 * from items to slots, and no object per slot (an entry object cost every
 * waiting task ~56 bytes, docs/performance.md). Priorities and tenants are
 * fair-queue.ts's.
 */

/**
 * What the backlog holds: anything with a priority, a submission order
 * (`seq`: a task put back keeps its place) and room for its queue stamp,
 * set while it waits, undefined otherwise.
 */
export interface Queued {
  readonly priority: number;
  readonly seq: number;
  stamp?: number | undefined;
}

/** Slots taken from the front are cut off once this many have piled up (and half the array is dead). */
const COMPACT_AT = 1024;

/** The last stamp given, by any queue: a stamp is never given twice. */
let lastStamp = 0;

export class SeqQueue<T> {
  /**
   * Per slot: the value, its item, and the stamp the item bore when it was
   * added. A slot the queue has moved past holds neither value nor item:
   * until the next compaction (up to half the array) they would keep
   * tasks that ran, their arguments and results, alive.
   */
  #values: (T | undefined)[] = [];
  #items: (Queued | undefined)[] = [];
  #stamps: number[] = [];
  /** Index of the first slot not yet taken. */
  #head = 0;
  #live = 0;

  get size(): number {
    return this.#live;
  }

  /** Add `value`, in the place of `queued` (which gets its stamp). */
  enqueue(value: T, queued: Queued): void {
    const stamp = ++lastStamp;
    queued.stamp = stamp;
    const items = this.#items;
    const n = items.length;
    if (n === this.#head || items[n - 1]!.seq < queued.seq) {
      this.#values.push(value);
      items.push(queued);
      this.#stamps.push(stamp);
    } else {
      // Put back: before the first slot submitted after it.
      let lo = this.#head;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (items[mid]!.seq < queued.seq) lo = mid + 1;
        else hi = mid;
      }
      this.#values.splice(lo, 0, value);
      items.splice(lo, 0, queued);
      this.#stamps.splice(lo, 0, stamp);
    }
    this.#live++;
  }

  /** Take the first live slot's value. */
  dequeue(): T | undefined {
    const i = this.#front();
    if (i === -1) return undefined;
    const value = this.#values[i]!;
    this.#items[i]!.stamp = undefined;
    this.#values[i] = this.#items[i] = undefined;
    this.#head = i + 1;
    this.#live--;
    this.#compact();
    return value;
  }

  /** The first live slot's value, without taking it. */
  peek(): T | undefined {
    const i = this.#front();
    return i === -1 ? undefined : this.#values[i];
  }

  /**
   * Take `queued` out (it waits in this queue); its slot is dropped when it
   * reaches the front. False if it was not waiting.
   */
  discard(queued: Queued): boolean {
    if (queued.stamp === undefined) return false;
    queued.stamp = undefined;
    this.#live--;
    if (this.#live === 0) {
      this.#values = [];
      this.#items = [];
      this.#stamps = [];
      this.#head = 0;
    }
    return true;
  }

  /** Push every live value onto `into`. */
  collect(into: unknown[]): void {
    const items = this.#items;
    for (let i = this.#head; i < items.length; i++) {
      if (items[i]!.stamp === this.#stamps[i]) into.push(this.#values[i]);
    }
  }

  /** Index of the first live slot, past the dead ones; -1 if none. */
  #front(): number {
    const items = this.#items;
    const stamps = this.#stamps;
    const values = this.#values;
    let head = this.#head;
    while (head < items.length && items[head]!.stamp !== stamps[head]) {
      values[head] = items[head] = undefined;
      head++;
    }
    this.#head = head;
    return head < items.length ? head : -1;
  }

  #compact(): void {
    const head = this.#head;
    if (head >= COMPACT_AT && head * 2 >= this.#items.length) {
      this.#values = this.#values.slice(head);
      this.#items = this.#items.slice(head);
      this.#stamps = this.#stamps.slice(head);
      this.#head = 0;
    }
  }
}
