/**
 * Dispatch: pairs the backlog with idle workers. It owns the backlog and its
 * p-queue slots (one per worker that can take work), hands a job to a worker
 * (the message, and whether the worker must confirm before the task counts as
 * started), takes that confirmation, and puts a job back when its worker died
 * before starting it. Settling a job is the engine's; the workers' fate is the
 * fleet's.
 */
import { SerializationError } from '../shared/errors.js';
import type { ParentMessage } from '../shared/protocol.js';
import { Backlog } from './backlog.js';
import { debug } from './debug.js';
import type { Deadlines } from './deadlines.js';
import type { Fleet } from './fleet.js';
import { startFuture } from './future.js';
import { label, type Job } from './job.js';
import type { Settings } from './options.js';
import { handOff } from './policy.js';
import type { Stats } from './stats.js';
import { traceRun } from './tracing.js';
import type { Worker } from './worker.js';

export interface DispatchHooks {
  /** The job's arguments cannot be serialized: it never ran; settle it with `error`. */
  unsendable(job: Job, error: SerializationError): void;
}

export class Dispatcher {
  readonly #backlog: Backlog<Job>;
  readonly #fleet: Fleet;
  readonly #deadlines: Deadlines;
  readonly #stats: Stats;
  readonly #settings: Settings;
  readonly #hooks: DispatchHooks;

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
    this.#backlog = new Backlog<Job>((job) => this.#take(job));
  }

  /** Tasks waiting for a worker. */
  get waiting(): number {
    return this.#backlog.size;
  }

  add(job: Job): void {
    this.#backlog.add(job);
  }

  /** Take a waiting job out; false if it is not waiting. */
  remove(job: Job): boolean {
    return this.#backlog.remove(job);
  }

  /** Take every waiting job out. */
  drain(): Job[] {
    return this.#backlog.drain();
  }

  below(n: number): Promise<void> {
    return this.#backlog.below(n);
  }

  /** p-queue may start as many jobs as there are workers taking work. */
  setSlots(slots: number): void {
    this.#backlog.setSlots(slots);
  }

  /** The job left its worker (settled, or put back): its slot is free again. */
  release(job: Job): void {
    job.worker = undefined;
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
    const now = performance.now();
    const mode = handOff({
      needsImport: job.spec.kind === 'module' && !worker.loaded.has(job.spec.module),
      idleForMs: now - worker.idleSince,
    });
    job.worker = worker;
    worker.assign(job);
    try {
      const message: ParentMessage = { t: 'run', id: job.id, spec: job.spec, args: job.args };
      if (mode !== 'run') message.ack = true;
      if (job.batch) message.batch = true;
      worker.send(message);
    } catch (error) {
      this.#unsent(job, worker, error);
      return released;
    }
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
    return released;
  }

  /** The message was not sent: the worker is gone, or the arguments cannot cross. */
  #unsent(job: Job, worker: Worker, error: unknown): void {
    worker.finishTask({ counted: false });
    if (!worker.connected) {
      worker.lost();
      this.release(job);
      this.#backlog.add(job); // never handed over: it waits for another worker
      return;
    }
    const reason = error instanceof Error ? error.message : String(error);
    this.#hooks.unsendable(
      job,
      new SerializationError(`the arguments of task ${label(job)} cannot be serialized: ${reason}`),
    );
  }

  /** The worker says it has the task (its module loaded): it runs from now. */
  onStarted(worker: Worker, id: number): void {
    const job = worker.job;
    if (!job || job.id !== id || job.acked || job.future.done()) return;
    const spec = job.spec;
    if (spec.kind === 'module' && !worker.loaded.has(spec.module)) {
      worker.loaded.add(spec.module);
      this.#begin(job, worker);
    } else {
      job.acked = true;
      traceRun(job, worker.pid);
      startFuture(job.future, worker.pid); // its clock started at the hand-off
    }
  }

  /** The task runs: its future learns the pid and its deadline starts. */
  #begin(job: Job, worker: Worker): void {
    job.acked = true;
    this.#deadlines.start(job);
    traceRun(job, worker.pid);
    startFuture(job.future, worker.pid);
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
    this.#stats.launched -= job.size;
    debug('task %s goes back to the backlog: its worker died before starting it', label(job));
    this.release(job);
    this.#backlog.add(job);
    return true;
  }
}
