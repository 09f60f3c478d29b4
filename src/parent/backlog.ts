/**
 * The backlog: waiting jobs in a fair queue (fair-queue.ts: priority first,
 * then round-robin across tenants, each tenant's tasks in submission order),
 * and p-queue for the slots. p-queue's concurrency is the number of workers
 * that can take a task (set by the dispatcher), and what it runs are
 * tickets: a ticket that gets a slot takes the best job waiting at that
 * moment and holds the slot while the job's worker is busy. So a job starts
 * exactly when a worker is free, and it is always the best one then.
 *
 * There are never more tickets waiting in p-queue than jobs that could take
 * a slot (at most one per slot): a job costs p-queue nothing until a worker
 * is free for it, and the jobs pipelining queues ahead inside busy workers
 * (the most, under load) never touch it. A ticket that finds no job (they
 * were taken meanwhile) frees its slot at once.
 *
 * The fast path: a job added while a slot is free and nothing waits starts
 * at once, without a ticket. p-queue then runs one slot short until the
 * job releases its slot (its concurrency is the slots minus those held
 * this way), so it never starts a ticket for a slot that is taken. A
 * sequential caller (submit, await, submit) takes this path every time;
 * p-queue's promise and events cost such a task ~6 µs of the parent's CPU
 * (docs/performance.md).
 *
 * p-queue itself is loaded the first time a job waits for a busy worker: a
 * program that imports deadpool, and a pool whose tasks always find a
 * worker free, never load it. Jobs that wait while there are no slots at
 * all (a cold start's first tasks, while the first workers boot) wait
 * without it, and the slots that appear go to the best of them directly,
 * as on the fast path (#startWithoutQueue): loading p-queue then would take
 * a CPU from the booting workers (~9 ms of a cold start's first result,
 * docs/performance.md). It was half of importing deadpool (~4.5 of ~9.5
 * ms, Node 26, docs/performance.md). It is loaded with require(), which
 * loads ES modules on every Node this package supports, so the job takes
 * its slot in the same turn as before (that first wait pays the load, ~5
 * ms, once per process). Where that is turned off
 * (`--no-experimental-require-module`), it is imported when deadpool
 * loads, as it was, and a job that waits before the import has finished
 * gets its slot once it has. If it cannot be loaded, the jobs waiting
 * fail (`unloadable`) and the next job to wait tries again.
 *
 * It also keeps how many tasks of each tenant were taken and have not come
 * back (running, or waiting inside a worker): a tenant at
 * `maxRunningPerTenant` waits, and is taken again once one of its tasks
 * comes back.
 */
import { createRequire } from 'node:module';
import type PQueue from 'p-queue';
import { importModule } from '../shared/dynamic-import.js';
import { debug } from './debug.js';
import { FairQueue, type FairItem } from './fair-queue.js';

export { SeqQueue, type Queued } from './seq-queue.js';

/**
 * What the backlog orders: a priority, a submission order (`seq`; a task put
 * back keeps it), whose turn it waits for (none: the tenant of the tasks
 * without one), and room for its place in the queue while it waits.
 */
export interface Ranked extends FairItem {
  readonly tenant?: string | undefined;
}

/** Called when a slot is free for `job`; `release()` when the slot is free again (once). */
export type Start<J> = (job: J, release: () => void) => void;

let pQueueClass: typeof PQueue | undefined;
/**
 * Where require() cannot load ES modules: p-queue's import, started when
 * deadpool loads (as a static import would have been), until it settles.
 */
let pQueueImport: Promise<void> | undefined;
if (!process.features.require_module) {
  pQueueImport = importModule<typeof import('p-queue')>('p-queue')
    .then(
      (loaded) => void (pQueueClass ??= loaded.default),
      () => {}, // loadPQueue() says why when a job next waits
    )
    .finally(() => (pQueueImport = undefined));
}

/** p-queue's class, loaded on first use (see the file header); throws, naming why, when it cannot be. */
export function loadPQueue(): typeof PQueue {
  if (pQueueClass !== undefined) return pQueueClass;
  try {
    pQueueClass = (createRequire(import.meta.url)('p-queue') as { default: typeof PQueue }).default;
    debug('p-queue loaded: a task waits for a busy worker');
    return pQueueClass;
  } catch (error) {
    throw new Error(`deadpool could not load its dependency p-queue: ${String(error)}`, {
      cause: error,
    });
  }
}

export class Backlog<J extends Ranked> {
  /** The slots' queue, made when a job first waits for a busy worker (#startWithoutQueue). */
  #slots: PQueue | undefined;
  /** Waiting for p-queue's import (#makeQueue). */
  #awaitingImport = false;
  /** p-queue could not be loaded: the jobs waiting fail, and the next job to wait tries again. */
  #unloaded = false;
  readonly #fair = new FairQueue<J>();
  readonly #start: Start<J>;
  readonly #shrunk: () => void;
  readonly #cap: number;
  readonly #unloadable: (error: Error) => void;
  /** Per tenant: tasks taken that have not come back. */
  readonly #taken = new Map<string, number>();
  /** Tickets added to p-queue and not yet run. */
  #tickets = 0;
  /** The slots, as the dispatcher last set them. */
  #slotCount = 0;
  /** Slots held by jobs that started without a ticket (the fast path, and #startWithoutQueue). */
  #direct = 0;
  readonly #ticket = (): Promise<void> => this.#run();

  /**
   * `start(job, release)` is called when a slot is free for `job`.
   * `shrunk()` after a job leaves the backlog. `cap`: the most tasks of one
   * tenant taken at once (tasks without a tenant: no cap). `unloadable(error)`,
   * on a later microtask, when a job waits and p-queue cannot be loaded: the
   * jobs waiting then have no slot to get, and are the caller's to fail.
   */
  constructor(
    start: Start<J>,
    shrunk: () => void = () => {},
    cap = Infinity,
    unloadable: (error: Error) => void = () => {},
  ) {
    this.#start = start;
    this.#shrunk = shrunk;
    this.#cap = cap;
    this.#unloadable = unloadable;
  }

  /** Every waiting task, those of tenants at their cap included. */
  get size(): number {
    return this.#fair.total;
  }

  /** Tickets waiting in p-queue for a slot: never more than the jobs that could take one, nor the slots. */
  get ticketsWaiting(): number {
    return this.#tickets;
  }

  /** Set how many slots there are: a job starts while fewer are taken. */
  setSlots(slots: number): void {
    this.#slotCount = slots;
    this.#resize();
  }

  /**
   * p-queue gets the slots not held by fast-path jobs, when it matters: while
   * tickets wait in it. Otherwise it runs nothing new until the next ticket
   * is added, and #issue sizes it first. A sequential caller's every task
   * changes the slots twice (its fast-path slot, its worker busy then idle),
   * and each resize ran p-queue's setter and events: 1.3 µs per round trip,
   * profiler overhead included, in a CPU profile of the latency row's
   * window (docs/performance.md).
   */
  #resize(): void {
    if (this.#tickets === 0 && this.#fair.size === 0) return;
    this.#size();
    this.#issue();
  }

  #size(): void {
    const queue = this.#slots;
    if (queue === undefined) return; // no job has waited yet
    const slots = this.#slotCount - this.#direct;
    if (slots <= 0) {
      queue.pause();
      return;
    }
    if (queue.concurrency !== slots) queue.concurrency = slots;
    queue.start();
  }

  add(job: J): void {
    if (this.#startsNow(job)) {
      this.#startDirect(job);
      return;
    }
    this.wait(job);
  }

  /**
   * `job` takes a free slot without a ticket. p-queue, if made, needs no
   * resizing now: it has no ticket waiting (#startsNow, #startWithoutQueue).
   */
  #startDirect(job: J): void {
    this.#direct++;
    this.#took(job);
    let held = true;
    this.#start(job, () => {
      if (!held) return;
      held = false;
      // On the next microtask, as p-queue frees a ticket's slot: the release
      // comes inside a worker's state change, and no job may start there.
      queueMicrotask(() => {
        this.#direct--;
        this.#resize();
      });
    });
  }

  /**
   * Add `job` to wait for a slot, never taking one at once: for a job given
   * a slot that no worker could take (the slots were about to shrink).
   */
  wait(job: J): void {
    this.#fair.enqueue(job, job);
    this.#unloaded = false;
    this.#issue();
  }

  /**
   * Make p-queue's queue, when a job first waits (see the file header): at
   * once, or, where p-queue is imported rather than required, once that
   * import has settled. If it cannot be loaded, the caller hears of it on
   * a later microtask, not inside its own step (a submit, a worker's exit).
   */
  #makeQueue(): void {
    if (pQueueImport !== undefined) {
      if (this.#awaitingImport) return;
      this.#awaitingImport = true;
      void pQueueImport.then(() => {
        this.#awaitingImport = false;
        if (this.#slots !== undefined || this.#fair.total === 0) return;
        this.#makeQueue();
        this.#resize();
      });
      return;
    }
    try {
      this.#slots = new (loadPQueue())({ autoStart: false, concurrency: 1 });
    } catch (error) {
      this.#unloaded = true;
      queueMicrotask(() => this.#unloadable(error as Error));
    }
  }

  /** A slot is free and no job or ticket waits for one: `job` may take it directly. */
  #startsNow(job: J): boolean {
    if (this.#fair.size !== 0 || this.#tickets !== 0) return false;
    // The tickets running hold slots; p-queue's own size may be stale (#resize).
    if ((this.#slots?.pending ?? 0) + this.#direct >= this.#slotCount) return false;
    const { tenant } = job;
    return tenant === undefined || (this.#taken.get(tenant) ?? 0) < this.#cap;
  }

  /**
   * Add tickets until there is one waiting for each job that could take a
   * slot, up to one per slot p-queue has. p-queue runs a ticket at once if
   * a slot is free.
   */
  #issue(): void {
    const queue = this.#slots;
    if (queue === undefined) {
      this.#startWithoutQueue();
      return;
    }
    const slots = this.#slotCount - this.#direct;
    if (this.#tickets >= this.#fair.size || this.#tickets >= slots) return;
    // p-queue runs a ticket at once if a slot is free: it has the slots first.
    this.#size();
    while (this.#tickets < this.#fair.size && this.#tickets < slots) {
      this.#tickets++;
      void queue.add(this.#ticket);
    }
  }

  /**
   * No job has waited for a busy worker yet, so p-queue was never made: the
   * free slots go to the best waiting jobs directly, as on the fast path.
   * Jobs wait here without p-queue while no worker can take any (a pool's
   * first workers are booting, or every worker died): a cold start's first
   * tasks never load it while the first workers boot, where its load
   * would take a CPU from them (docs/performance.md). It is made once a job
   * waits while every slot is taken.
   */
  #startWithoutQueue(): void {
    while (this.#direct < this.#slotCount && this.#fair.size !== 0) {
      const job = this.#fair.dequeue()!;
      this.#shrunk();
      this.#startDirect(job);
    }
    if (this.#fair.size === 0 || this.#slotCount === 0 || this.#unloaded) return;
    this.#makeQueue();
    if (this.#slots !== undefined) this.#issue();
  }

  /** A ticket got a slot: the best job waiting now is taken, and holds the slot. */
  #run(): Promise<void> {
    this.#tickets--;
    const job = this.#fair.dequeue();
    if (job === undefined) return Promise.resolve();
    this.#took(job);
    this.#shrunk();
    const held = new Promise<void>((release) => this.#start(job, release));
    this.#issue();
    return held;
  }

  /** Take a waiting job out (cancelled: its tenant keeps its turn). False if it is not waiting. */
  remove(job: J): boolean {
    return this.#out(job, false);
  }

  /** Take the job `peek()` showed, to run elsewhere (pipelining): its tenant's turn passes. */
  take(job: J): boolean {
    return this.#out(job, true);
  }

  /** `job` leaves the queue; `taken` to run (counted against its tenant, its turn passes). */
  #out(job: J, taken: boolean): boolean {
    if (!this.#fair.remove(job, taken)) return false;
    if (taken) this.#took(job);
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
      this.#issue();
    }
  }

  /** The best waiting job that can be taken now, without taking it. */
  peek(): J | undefined {
    return this.#fair.peek();
  }

  /** Take every waiting job out, in no particular order. */
  drain(): J[] {
    const jobs = this.#fair.values();
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
