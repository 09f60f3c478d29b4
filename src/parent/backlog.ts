/**
 * The backlog: p-queue, used as p-queue means. Its concurrency is the number
 * of workers that can take a task (set by the dispatcher), so it starts a job
 * exactly when a worker is free, and always the best waiting one at that
 * moment. The order is its `queueClass` hook (fair-queue.ts): priority first,
 * then round-robin across tenants, each tenant's tasks in submission order.
 *
 * It also keeps how many tasks of each tenant were taken and have not come
 * back (running, or waiting inside a worker): a tenant at
 * `maxRunningPerTenant` waits, and is taken again once one of its tasks
 * comes back (p-queue then needs a nudge: it looks again only on add, on a
 * settle or on a concurrency change).
 */
import PQueue from 'p-queue';
import { FairQueue, NO_TENANT, type FairItem, type TenantKey } from './fair-queue.js';
import type { AddOptions } from './task-heap.js';

export { TaskHeap, type Queued } from './task-heap.js';

type Run = () => Promise<unknown>;

/** What the backlog orders: a priority, a submission order (`seq`; a task put back keeps it). */
export interface Ranked {
  readonly priority: number;
  readonly seq: number;
  /** Whose turn it waits for; none: the tenant of the tasks without one. */
  readonly tenant?: string | undefined;
}

/** A job's place in the queue; the backlog keeps it, the job carries nothing. */
interface Holder<J> extends FairItem {
  readonly job: J;
}

export class Backlog<J extends Ranked> {
  readonly #queue: PQueue;
  readonly #fair = new FairQueue();
  readonly #start: (job: J) => Promise<void>;
  readonly #shrunk: () => void;
  readonly #cap: number;
  /** Every waiting job and its place in the queue. */
  readonly #waiting = new Map<J, Holder<J>>();
  /** Per tenant: tasks taken that have not come back. */
  readonly #taken = new Map<string, number>();

  /**
   * `start(job)` is called when a slot is free; its promise settles when the
   * slot is free again. `shrunk()` after a job leaves the backlog. `cap`: the
   * most tasks of one tenant taken at once (tasks without a tenant: no cap).
   */
  constructor(start: (job: J) => Promise<void>, shrunk: () => void = () => {}, cap = Infinity) {
    this.#start = start;
    this.#shrunk = shrunk;
    this.#cap = cap;
    const fair = this.#fair;
    // p-queue makes its queue itself; this one hands every call to the backlog's.
    class Queue {
      get size(): number {
        return fair.size;
      }
      enqueue(run: Run, options?: Partial<AddOptions>): void {
        fair.enqueue(run, options as { queued?: FairItem });
      }
      dequeue(): Run | undefined {
        return fair.dequeue();
      }
      filter(): Run[] {
        return fair.filter();
      }
      setPriority(): void {
        fair.setPriority();
      }
    }
    this.#queue = new PQueue({ autoStart: false, concurrency: 1, queueClass: Queue });
  }

  /** Every waiting task, those of tenants at their cap included. */
  get size(): number {
    return this.#fair.total;
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
    const tenant: TenantKey = job.tenant ?? NO_TENANT;
    const holder: Holder<J> = { priority: job.priority, seq: job.seq, tenant, job };
    this.#waiting.set(job, holder);
    const options: AddOptions = { priority: -job.priority, id: '', queued: holder };
    void this.#queue.add(() => this.#run(job), options);
  }

  /** p-queue runs a job: it is taken. */
  #run(job: J): Promise<void> {
    this.#waiting.delete(job);
    this.#took(job);
    this.#shrunk();
    return this.#start(job);
  }

  /** Take a waiting job out (cancelled: its tenant keeps its turn). False if it is not waiting. */
  remove(job: J): boolean {
    const holder = this.#waiting.get(job);
    if (holder === undefined || !this.#fair.remove(holder, false)) return false;
    this.#waiting.delete(job);
    this.#shrunk();
    return true;
  }

  /** Take the job `peek()` showed, to run elsewhere (pipelining): its tenant's turn passes. */
  take(job: J): boolean {
    const holder = this.#waiting.get(job);
    if (holder === undefined || !this.#fair.remove(holder, true)) return false;
    this.#waiting.delete(job);
    this.#took(job);
    this.#shrunk();
    return true;
  }

  /**
   * A job taken from the backlog came back (it ended, or goes back to wait):
   * its tenant may be taken again.
   */
  returned(job: J): void {
    const { tenant } = job;
    if (tenant === undefined || this.#cap === Infinity) return;
    const n = (this.#taken.get(tenant) ?? 0) - 1;
    if (n <= 0) this.#taken.delete(tenant);
    else this.#taken.set(tenant, n);
    if (n + 1 >= this.#cap && n < this.#cap) {
      this.#fair.setCapped(tenant, false);
      // p-queue looks again only on add, settle or a concurrency change.
      const queue = this.#queue;
      // eslint-disable-next-line no-self-assign -- the setter is what makes p-queue look again
      if (!queue.isPaused) queue.concurrency = queue.concurrency;
    }
  }

  /** The best waiting job that can be taken now, without taking it. */
  peek(): J | undefined {
    return (this.#fair.peek() as Holder<J> | undefined)?.job;
  }

  /** Take every waiting job out, in no particular order. */
  drain(): J[] {
    const jobs = [...this.#waiting.keys()];
    for (const job of jobs) this.remove(job);
    return jobs;
  }

  #took(job: J): void {
    const { tenant } = job;
    if (tenant === undefined || this.#cap === Infinity) return;
    const n = (this.#taken.get(tenant) ?? 0) + 1;
    this.#taken.set(tenant, n);
    if (n >= this.#cap) this.#fair.setCapped(tenant, true);
  }
}
