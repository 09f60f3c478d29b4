/**
 * The backlog's ordering, as p-queue's `queueClass`: lowest `priority`
 * first; within a priority, round-robin across tenants (one task of each
 * tenant that has tasks waiting, in turn; each tenant's own tasks in
 * submission order, a task put back keeping its place). Tasks without a
 * tenant are one tenant of their own.
 *
 * The rules the prototype found (see docs/dispatch.md):
 * - p-queue calls what `dequeue()` returns without checking it, so `size`
 *   counts only the tasks that can be taken now: a capped tenant's are left
 *   out (the backlog's own size counts them all).
 * - Taking a task (`dequeue`, or `remove(…, true)` for pipelining) moves its
 *   tenant to the back of the round; removing a cancelled one does not.
 * - A tenant that starts waiting joins at the back of the current round.
 */
import { TaskHeap, type Queued } from './task-heap.js';

type Run = () => Promise<unknown>;

/** Whose turn a task waits for: its tenant's name, or NO_TENANT. */
export type TenantKey = string | typeof NO_TENANT;
export const NO_TENANT: unique symbol = Symbol('no tenant');

/** A task in the queue: p-queue's `queued` option. */
export interface FairItem extends Queued {
  readonly tenant: TenantKey;
}

interface Tenant {
  readonly key: TenantKey;
  readonly heap: TaskHeap;
}

/** The tenants of one priority, in turn order. */
interface Level {
  readonly ring: Tenant[];
  readonly byKey: Map<TenantKey, Tenant>;
}

export class FairQueue {
  readonly #levels = new Map<number, Level>();
  /** The priorities that have tasks, ascending. */
  readonly #priorities: number[] = [];
  readonly #waitingBy = new Map<TenantKey, number>();
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
    const waiting = this.#waitingBy.get(key) ?? 0;
    if (capped) {
      this.#capped.add(key);
      this.#blocked += waiting;
    } else {
      this.#capped.delete(key);
      this.#blocked -= waiting;
    }
  }

  enqueue(run: Run, options?: { queued?: FairItem }): void {
    const item = options?.queued;
    if (item === undefined) throw new Error('deadpool bug: a backlog task without its item');
    let level = this.#levels.get(item.priority);
    if (level === undefined) {
      level = { ring: [], byKey: new Map() };
      this.#levels.set(item.priority, level);
      const at = this.#priorities.findIndex((p) => p > item.priority);
      this.#priorities.splice(at === -1 ? this.#priorities.length : at, 0, item.priority);
    }
    let tenant = level.byKey.get(item.tenant);
    if (tenant === undefined) {
      tenant = { key: item.tenant, heap: new TaskHeap() };
      level.byKey.set(item.tenant, tenant);
      level.ring.push(tenant); // joins at the back of the current round
    }
    tenant.heap.enqueue(run, { priority: 0, queued: item });
    this.#count(item.tenant, 1);
  }

  /** The next task to run: the first tenant not capped, in the best priority that has one. */
  dequeue(): Run | undefined {
    const found = this.#next();
    if (found === undefined) return undefined;
    const [priority, level, i] = found;
    const tenant = level.ring[i]!;
    const run = tenant.heap.dequeue();
    this.#count(tenant.key, -1);
    this.#after(priority, level, tenant, true);
    return run;
  }

  /** The item `dequeue()` would take next, without taking it. */
  peek(): FairItem | undefined {
    const found = this.#next();
    if (found === undefined) return undefined;
    const [, level, i] = found;
    return level.ring[i]!.heap.peek() as FairItem | undefined;
  }

  /**
   * Take `item` out. `taken`: it was taken to run (its tenant's turn passes);
   * else it was cancelled (the turn stays). False if it was not waiting.
   */
  remove(item: FairItem, taken: boolean): boolean {
    const level = this.#levels.get(item.priority);
    const tenant = level?.byKey.get(item.tenant);
    if (level === undefined || tenant === undefined || item.entry === undefined) return false;
    if (!tenant.heap.discard(item.entry)) return false;
    this.#count(item.tenant, -1);
    this.#after(item.priority, level, tenant, taken);
    return true;
  }

  /** p-queue asks for these only for `sizeBy`, which deadpool does not use. */
  filter(): Run[] {
    return [];
  }

  setPriority(): void {
    throw new Error('deadpool does not reprioritise waiting tasks');
  }

  #next(): [number, Level, number] | undefined {
    if (this.size === 0) return undefined;
    for (const priority of this.#priorities) {
      const level = this.#levels.get(priority)!;
      const i = level.ring.findIndex((t) => !this.#capped.has(t.key));
      if (i !== -1) return [priority, level, i];
    }
    return undefined;
  }

  /** After a task left `tenant`: its turn passes if it was `taken`; an empty tenant leaves the round. */
  #after(priority: number, level: Level, tenant: Tenant, taken: boolean): void {
    const i = level.ring.indexOf(tenant);
    if (tenant.heap.size === 0) {
      level.ring.splice(i, 1);
      level.byKey.delete(tenant.key);
      if (level.ring.length === 0) {
        this.#levels.delete(priority);
        this.#priorities.splice(this.#priorities.indexOf(priority), 1);
      }
    } else if (taken) {
      level.ring.splice(i, 1);
      level.ring.push(tenant);
    }
  }

  #count(key: TenantKey, delta: number): void {
    this.#total += delta;
    if (this.#capped.has(key)) this.#blocked += delta;
    const n = (this.#waitingBy.get(key) ?? 0) + delta;
    if (n === 0) this.#waitingBy.delete(key);
    else this.#waitingBy.set(key, n);
  }
}
