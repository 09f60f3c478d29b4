/**
 * Dispatch: pairs the backlog with workers. It owns the backlog and its
 * p-queue slots (one per worker that can take work: a busy worker's slot
 * passes from task to task while it stays busy), hands a job to an idle
 * worker (straight, when nothing waits), sends jobs, takes the workers' word
 * that a task started, and puts a job back when it never started or comes
 * back from a worker. Queueing ahead inside busy workers is pipeline.ts's.
 * Settling a job is the engine's; the workers' fate is the fleet's.
 *
 * A task queued inside a worker keeps every guarantee of a waiting task: it
 * still counts as waiting, starts its clock and counts as launched only when
 * the worker reports its start, can be dropped (cancel, queueTimeout, a
 * worker retiring), and goes back to the backlog, never failed, when its
 * worker dies.
 */
import { SerializationError } from '../shared/errors.js';
import { Backlog } from './backlog.js';
import { debug } from './debug.js';
import type { Deadlines } from './deadlines.js';
import type { Fleet } from './fleet.js';
import { startFuture } from './future.js';
import { label, needsImport, type Job } from './job.js';
import type { Settings } from './options.js';
import { Pipeline } from './pipeline.js';
import { handOff } from './policy.js';
import type { Stats } from './stats.js';
import { traceRun } from './tracing.js';
import type { Worker } from './worker.js';

export interface DispatchHooks {
  /** The job's arguments cannot be serialized: it never ran; settle it with `error`. */
  unsendable(job: Job, error: SerializationError): void;
  /** A job that waited inside a worker was dropped there after its future settled: it leaves. */
  dropped(job: Job): void;
}

export class Dispatcher {
  readonly #backlog: Backlog<Job>;
  readonly #fleet: Fleet;
  readonly #deadlines: Deadlines;
  readonly #stats: Stats;
  readonly #settings: Settings;
  readonly #hooks: DispatchHooks;
  #waiters: { below: number; resolve: () => void }[] = [];
  /** Queues short tasks ahead inside busy workers (pipeline.ts). */
  readonly #pipeline: Pipeline;
  /** Busy workers whose running task went to them straight, without a p-queue slot. */
  #direct = 0;

  constructor(
    settings: Settings,
    fleet: Fleet,
    deadlines: Deadlines,
    stats: Stats,
    hooks: DispatchHooks,
  ) {
    this.#settings = settings;
    this.#fleet = fleet;
    this.#deadlines = deadlines;
    this.#stats = stats;
    this.#hooks = hooks;
    this.#backlog = new Backlog<Job>(
      (job) => this.#take(job),
      () => this.#wake(),
    );
    this.#pipeline = new Pipeline(this.#backlog, fleet, settings, (worker, jobs) => {
      for (const job of jobs) job.pipelined = true;
      this.#send(worker, jobs, true);
    });
  }

  /** A job that ran ended: its run time sizes pipelining. */
  noteRunTime(ms: number): void {
    this.#pipeline.noteRunTime(ms);
  }

  /** Ask `worker` to hand back `jobs` if they still wait inside it (answered by `onDropped`). */
  drop(worker: Worker, jobs: readonly Job[]): void {
    this.#pipeline.drop(worker, jobs);
  }

  /** A busy worker will retire after its task: what waits inside it goes back. */
  reclaim(worker: Worker): void {
    this.#pipeline.drop(worker, worker.queued);
  }

  /** A worker became idle: with nothing left in the backlog, it may take tasks waiting elsewhere. */
  onIdle(): void {
    this.#pipeline.onIdle();
  }

  /** Tasks waiting: in the backlog, and queued inside busy workers. */
  get waiting(): number {
    return this.#backlog.size + this.#fleet.queuedTasks;
  }

  /** Tasks waiting in the backlog, for no worker yet. */
  get unassigned(): number {
    return this.#backlog.size;
  }

  /**
   * A new task. With nothing waiting and a worker idle it goes straight to
   * that worker (no priority can apply to a single task); otherwise it waits
   * in the backlog.
   */
  add(job: Job): void {
    if (this.#backlog.size === 0) {
      const worker = this.#fleet.peekIdle();
      if (worker !== undefined) {
        this.#direct++;
        job.slot = 'direct';
        this.#handTo(worker, job);
        return;
      }
    }
    this.#backlog.add(job);
    this.#pipeline.schedule();
  }

  /** Take a job out of the backlog; false if it is not there. */
  remove(job: Job): boolean {
    return this.#backlog.remove(job);
  }

  /** Take every job out of the backlog. */
  drain(): Job[] {
    return this.#backlog.drain();
  }

  /** Resolves when fewer than `n` tasks wait. */
  below(n: number): Promise<void> {
    if (this.waiting < n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ below: n, resolve }));
  }

  /**
   * p-queue may start as many jobs as there are workers taking work, less
   * the busy ones whose task did not come through it.
   */
  syncSlots(): void {
    const { idle, busy } = this.#fleet.counts;
    this.#backlog.setSlots(idle + busy - this.#direct);
  }

  /** The job left its worker (settled, or put back): its slot is free again. */
  release(job: Job): void {
    job.worker = undefined;
    const slot = job.slot;
    job.slot = undefined;
    if (slot === 'direct') {
      this.#direct--;
      this.syncSlots();
      return;
    }
    const release = job.release;
    job.release = undefined;
    release?.();
  }

  /** Called by the backlog when a slot is free: hand the job to an idle worker. */
  #take(job: Job): Promise<void> {
    const worker = this.#fleet.peekIdle();
    if (worker === undefined) {
      // Slots follow the workers, so this should not happen; never lose the job if it does.
      debug('no idle worker for job %d; re-queued', job.id);
      this.#backlog.add(job);
      return Promise.resolve();
    }
    const released = new Promise<void>((resolve) => (job.release = resolve));
    job.slot = 'queue';
    this.#handTo(worker, job);
    return released;
  }

  /** Hand `job` to the idle `worker`: it runs now, or once the worker confirms. */
  #handTo(worker: Worker, job: Job): void {
    job.pipelined = false; // it runs at once, or once confirmed, as the worker's only task
    const now = performance.now();
    const mode = handOff({
      needsImport: needsImport(job, worker),
      idleForMs: now - worker.idleSince,
    });
    job.worker = worker;
    worker.assign(job);
    this.#send(worker, [job], mode !== 'run');
    if (job.worker !== worker) return; // not sent: put back, or failed
    job.startedAt = now;
    this.#stats.launched += job.size;
    this.#stats.noteBusy(this.#fleet.counts.busy);
    this.#stats.queueWait.add(now - job.submittedAt);
    if (mode === 'load') {
      // The import does not count: until the worker has the module, only startTimeout runs.
      job.acked = false;
      this.#deadlines.load(job, this.#settings.startTimeout);
    } else if (mode === 'ack') {
      // The deadline counts from the hand-off; the future runs once the worker confirms.
      job.acked = false;
      this.#deadlines.start(job);
    } else {
      this.#begin(job, worker);
    }
    this.#pipeline.schedule();
  }

  /**
   * Send `jobs` to `worker` (which holds them already) in one message; if that
   * cannot be sent, one by one, so only a job whose arguments cannot cross
   * fails (and a worker that is gone gets none).
   */
  #send(worker: Worker, jobs: readonly Job[], ack: boolean): void {
    try {
      worker.run(jobs, ack);
    } catch (error) {
      if (jobs.length === 1) this.#unsent(jobs[0]!, worker, error);
      else for (const job of jobs) this.#send(worker, [job], ack);
    }
  }

  /** The message was not sent: the worker is gone, or the arguments cannot cross. */
  #unsent(job: Job, worker: Worker, error: unknown): void {
    if (!worker.unqueue(job)) worker.finishTask({ counted: false });
    if (!worker.connected) {
      if (worker.state === 'idle') worker.lost();
      this.release(job);
      job.pipelined = false;
      this.#backlog.add(job); // never handed over: it waits for another worker
      return;
    }
    const reason = error instanceof Error ? error.message : String(error);
    this.#hooks.unsendable(
      job,
      new SerializationError(`the arguments of task ${label(job)} cannot be serialized: ${reason}`),
    );
  }

  /**
   * `worker` finished `done`; `head` (from its queue) runs now: the p-queue
   * slot passes to it, and, when the worker named it as started, it begins.
   */
  handOver(done: Job, head: Job, announced: boolean): void {
    head.release = done.release;
    head.slot = done.slot;
    done.release = undefined;
    done.slot = undefined;
    head.acked = false;
    if (announced) this.#begin(head, head.worker!);
    this.#wake();
    this.#pipeline.schedule();
  }

  /** The worker says it has the task (its module loaded, or a queued task started): it runs from now. */
  onStarted(worker: Worker, id: number): void {
    const head = worker.job;
    if (head?.pipelined && !head.acked && head.id !== id) {
      // It started another of the tasks on their way to it first.
      const other = worker.queued.find((j) => j.id === id);
      if (other) {
        worker.startedInstead(other);
        other.acked = false;
        other.release = head.release;
        other.slot = head.slot;
        head.release = undefined;
        head.slot = undefined;
      }
    }
    const job = worker.job;
    if (!job || job.id !== id || job.acked) return;
    const spec = job.spec;
    if (job.pipelined) {
      this.#begin(job, worker);
    } else if (spec.kind === 'module' && !worker.loaded.has(spec.module)) {
      worker.loaded.add(spec.module);
      this.#begin(job, worker);
    } else {
      // Its clock started at the hand-off; only the future learns it runs.
      job.acked = true;
      if (!job.future.done()) {
        traceRun(job, worker.pid);
        startFuture(job.future, worker.pid);
      }
    }
  }

  /**
   * The task runs: its clock starts and its future learns the pid. A task
   * that waited inside the worker counts as launched only now. A task whose
   * future already settled (cancelled while it waited) still gets its clock:
   * its timeout bounds how long the worker may spend on it.
   */
  #begin(job: Job, worker: Worker): void {
    job.acked = true;
    if (job.pipelined) {
      const now = performance.now();
      job.startedAt = now;
      this.#stats.launched += job.size;
      this.#stats.pipelined += job.size;
      this.#stats.queueWait.add(now - job.submittedAt);
    }
    this.#deadlines.start(job);
    if (job.future.done()) return;
    traceRun(job, worker.pid);
    startFuture(job.future, worker.pid);
  }

  /** The worker handed these back: each leaves (its future settled) or waits again. */
  onDropped(worker: Worker, ids: readonly number[]): void {
    for (const id of ids) {
      const job = worker.queued.find((j) => j.id === id);
      if (job && worker.unqueue(job)) this.#putBack(job);
    }
    this.#wake();
  }

  /** Its worker died or was killed: the tasks waiting inside it go back, in their order. */
  putBackQueued(worker: Worker): void {
    for (const job of worker.takeQueued()) this.#putBack(job);
    this.#wake();
  }

  #putBack(job: Job): void {
    job.worker = undefined;
    job.pipelined = false;
    if (job.future.done()) this.#hooks.dropped(job);
    else this.#backlog.add(job);
  }

  /**
   * Its worker died before it confirmed the task: the task never ran, so it
   * waits for another worker. Once only: a task whose module kills its worker
   * fails the next time. Returns false when it had been put back before.
   */
  requeue(job: Job): boolean {
    if (job.requeued) return false;
    this.#deadlines.clear(job);
    const { queueTimeout } = job.options;
    if (queueTimeout !== undefined) {
      this.#deadlines.queue(job, queueTimeout - (performance.now() - job.submittedAt));
    }
    job.requeued = true;
    if (!job.pipelined) this.#stats.launched -= job.size;
    job.pipelined = false;
    debug('task %s goes back to the backlog: its worker died before starting it', label(job));
    this.release(job);
    this.#backlog.add(job);
    return true;
  }

  /** Wake `below()` waiters once fewer tasks wait. */
  #wake(): void {
    if (this.#waiters.length === 0) return;
    const waiting = this.waiting;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (waiting >= waiter.below) return true;
      waiter.resolve();
      return false;
    });
  }
}
