/**
 * The backlog's ordering (backlog.ts): lowest `priority` first; within a priority, round-robin across tenants (one task of each
 * tenant that has tasks waiting, in turn; each tenant's own tasks in
 * submission order, a task put back keeping its place). Tasks without a
 * tenant are one tenant of their own.
 *
 * The rules the prototype found (see docs/dispatch.md):
 * - `size` counts only the tasks that can be taken now: a capped tenant's
 *   are left out (`total` counts them all).
 * - Taking a task (`dequeue`, or `remove(…, true)` for pipelining) moves its
 *   tenant to the back of the round; removing a cancelled one does not.
 * - A tenant that starts waiting joins at the back of the current round.
 */
import { SeqQueue, type Queued } from './seq-queue.js';

/** Whose turn a task waits for: its tenant's name, or NO_TENANT. */
export type TenantKey = string | typeof NO_TENANT;
export const NO_TENANT: unique symbol = Symbol('no tenant');

/**
 * What the queue holds: a task with its tenant (none, or NO_TENANT: the
 * tenant of the tasks without one) and room for its stamp, so that it
 * carries its own place in the queue (the backlog's jobs are their items).
 */
export interface FairItem extends Queued {
  readonly tenant?: TenantKey | undefined;
}

function keyOf(item: FairItem): TenantKey {
  return item.tenant ?? NO_TENANT;
}

interface Tenant<T> {
  readonly key: TenantKey;
  readonly priority: number;
  readonly level: Level<T>;
  readonly tasks: SeqQueue<T>;
}

/** The tenants of one priority, in turn order. */
interface Level<T> {
  readonly ring: Tenant<T>[];
  readonly byKey: Map<TenantKey, Tenant<T>>;
}

/** Holds a value per waiting task (the backlog's: the job), in the order above. */
export class FairQueue<T> {
  readonly #levels = new Map<number, Level<T>>();
  /** The priorities that have tasks, ascending. */
  readonly #priorities: number[] = [];
  readonly #capped = new Set<TenantKey>();
  #total = 0;
  #blocked = 0;

  /** Tasks that can be taken now (what p-queue may dequeue). */
  get size(): number {
    return this.#total - this.#blocked;
  }

  /** Every task waiting, capped tenants' included. */
  get total(): number {
    return this.#total;
  }

  /** A capped tenant's tasks wait (and are not counted in `size`) until it is uncapped. */
  setCapped(key: TenantKey, capped: boolean): void {
    if (capped === this.#capped.has(key)) return;
    let waiting = 0;
    for (const level of this.#levels.values()) waiting += level.byKey.get(key)?.tasks.size ?? 0;
    if (capped) {
      this.#capped.add(key);
      this.#blocked += waiting;
    } else {
      this.#capped.delete(key);
      this.#blocked -= waiting;
    }
  }

  /** Add `value` in the place of `item` (which gets its stamp). */
  enqueue(value: T, item: FairItem): void {
    let level = this.#levels.get(item.priority);
    if (level === undefined) {
      level = { ring: [], byKey: new Map() };
      this.#levels.set(item.priority, level);
      const at = this.#priorities.findIndex((p) => p > item.priority);
      this.#priorities.splice(at === -1 ? this.#priorities.length : at, 0, item.priority);
    }
    const key = keyOf(item);
    let tenant = level.byKey.get(key);
    if (tenant === undefined) {
      tenant = { key, priority: item.priority, level, tasks: new SeqQueue<T>() };
      level.byKey.set(key, tenant);
      level.ring.push(tenant); // joins at the back of the current round
    }
    tenant.tasks.enqueue(value, item);
    this.#count(key, 1);
  }

  /** The next task to run: the first tenant not capped, in the best priority that has one. */
  dequeue(): T | undefined {
    const tenant = this.#next();
    if (tenant === undefined) return undefined;
    const value = tenant.tasks.dequeue();
    this.#count(tenant.key, -1);
    this.#after(tenant, true);
    return value;
  }

  /** The value `dequeue()` would take next, without taking it. */
  peek(): T | undefined {
    return this.#next()?.tasks.peek();
  }

  /**
   * Take `item` out. `taken`: it was taken to run (its tenant's turn passes);
   * else it was cancelled (the turn stays). False if it was not waiting.
   */
  remove(item: FairItem, taken: boolean): boolean {
    if (item.stamp === undefined) return false;
    const tenant = this.#levels.get(item.priority)?.byKey.get(keyOf(item));
    if (tenant === undefined || !tenant.tasks.discard(item)) return false;
    this.#count(tenant.key, -1);
    this.#after(tenant, taken);
    return true;
  }

  /** Every waiting value, in no particular order. */
  values(): T[] {
    const values: T[] = [];
    for (const level of this.#levels.values()) {
      for (const tenant of level.ring) tenant.tasks.collect(values);
    }
    return values;
  }

  /** The tenant whose turn it is: the first not capped, in the best priority that has one. */
  #next(): Tenant<T> | undefined {
    if (this.size === 0) return undefined;
    const capped = this.#capped;
    for (const priority of this.#priorities) {
      const ring = this.#levels.get(priority)!.ring;
      if (capped.size === 0) return ring[0];
      for (const tenant of ring) if (!capped.has(tenant.key)) return tenant;
    }
    return undefined;
  }

  /** After a task left `tenant`: its turn passes if it was `taken`; an empty tenant leaves the round. */
  #after(tenant: Tenant<T>, taken: boolean): void {
    const { level, priority } = tenant;
    const ring = level.ring;
    if (tenant.tasks.size === 0) {
      ring.splice(ring.indexOf(tenant), 1);
      level.byKey.delete(tenant.key);
      if (ring.length === 0) {
        this.#levels.delete(priority);
        this.#priorities.splice(this.#priorities.indexOf(priority), 1);
      }
    } else if (taken && ring.length > 1) {
      ring.splice(ring.indexOf(tenant), 1);
      ring.push(tenant);
    }
  }

  #count(key: TenantKey, delta: number): void {
    this.#total += delta;
    if (this.#capped.size > 0 && this.#capped.has(key)) this.#blocked += delta;
  }
}
