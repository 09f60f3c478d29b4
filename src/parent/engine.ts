/**
 * The engine behind the facade keeps the job lifecycle: a job is submitted,
 * waits, runs, and settles exactly once, through `#settle`, whichever path
 * ends it (a result, a kill, a deadline, a cancel, its worker's death, a
 * start failure, shutdown). It wires the parts together and routes the
 * workers' messages; it owns no worker state (worker.ts, fleet.ts), no
 * backlog (dispatch.ts), no timer (deadlines.ts) and no waiting on the pool
 * (lifecycle.ts).
 */
import {
  CancelledError,
  MemoryLimitError,
  TimeoutError,
  type WorkerStartError,
} from '../shared/errors.js';
import { fromWire, type Outcome, type TaskSpec, type WorkerMessage } from '../shared/protocol.js';
import { Deadlines } from './deadlines.js';
import { Dispatcher } from './dispatch.js';
import type { Emit, ExitReason } from './events.js';
import { processError } from './exit-message.js';
import { Fleet } from './fleet.js';
import { Future, progressFuture, settleFuture, type CancelHooks } from './future.js';
import { cancelledBySignal, createJob, label, type Job } from './job.js';
import { Lifecycle } from './lifecycle.js';
import { MemoryWatch } from './memory.js';
import type { Bounds, JobOptions, Settings } from './options.js';
import { Stats, type DeadpoolStatistics } from './stats.js';
import type { Worker, WorkerState } from './worker.js';

type Outcome3 = 'completed' | 'failed' | 'cancelled';

export class Engine {
  readonly settings: Settings;
  readonly stats = new Stats();
  readonly #emit: Emit;
  readonly #fleet: Fleet;
  readonly #dispatch: Dispatcher;
  readonly #deadlines: Deadlines;
  readonly #life: Lifecycle;
  readonly #memory: MemoryWatch;
  readonly #hooks: CancelHooks<Job> = {
    cancel: (job, kill) => this.#cancel(job, kill),
    kill: (job) =>
      this.#kill(
        job,
        new CancelledError(`task ${label(job)} was cancelled while running`),
        'killed',
      ),
  };
  #nextId = 1;

  constructor(settings: Settings, emit: Emit) {
    this.settings = settings;
    this.#emit = emit;
    this.#fleet = new Fleet(settings, this.stats, {
      message: (worker, message) => this.#onMessage(worker, message),
      transition: (worker, from, to) => this.#onTransition(worker, from, to),
      exit: (worker, code, signal, reason) => this.#onExit(worker, code, signal, reason),
      failing: (failure) => this.#failing(failure),
      started: (info) => this.#emit('workerStart', info),
    });
    this.#deadlines = new Deadlines({
      expired: (job, ms, why) => this.#timedOut(job, why),
      soft: (job) => this.#softTimedOut(job),
    });
    this.#dispatch = new Dispatcher(settings, this.#fleet, this.#deadlines, this.stats, {
      unsendable: (job, error) => this.#settle(job, 'failed', error),
    });
    this.#life = new Lifecycle(this.#fleet, settings.maxWorkers, {
      windDown: () => this.#fleet.windDown(this.#dispatch.waiting),
      quiet: () => {
        this.#fleet.stopTimers();
        this.#memory.stop();
      },
    });
    this.#memory = new MemoryWatch(
      settings.memoryLimitBytes,
      settings.memorySampleInterval,
      (worker, rss) => this.#memoryKill(worker as Worker, rss),
    );
    for (let i = 0; i < settings.maxWorkers; i++) this.#fleet.spawn();
  }

  // ---- jobs ----------------------------------------------------------------

  /**
   * Queue a task. With `batch`, `args` is a list of argument lists run one
   * after the other on one worker (for `map`); the future resolves with one
   * Outcome per item, and statistics count each item as a task.
   */
  submit<T>(spec: TaskSpec, args: unknown[], options: JobOptions, batch = false): Future<T> {
    const job = createJob(this.#nextId++, spec, args, options, batch);
    job.future = new Future(this.#hooks, job);
    if (options.onProgress) job.future.addProgressCallback(options.onProgress);
    this.stats.received += job.size;
    this.#life.jobAdded();
    const { signal } = options;
    if (signal?.aborted) {
      this.#settle(job, 'cancelled', cancelledBySignal(job, signal));
      return job.future as Future<T>;
    }
    if (signal) {
      const onAbort = (): void => {
        const error = cancelledBySignal(job, signal);
        if (job.worker) this.#kill(job, error, 'killed');
        else if (this.#dispatch.remove(job)) this.#settle(job, 'cancelled', error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      job.unlisten = () => signal.removeEventListener('abort', onAbort);
    }
    this.#dispatch.add(job);
    this.#replenish();
    return job.future as Future<T>;
  }

  get backlogSize(): number {
    return this.#dispatch.waiting;
  }

  get bounds(): Bounds {
    return this.#fleet.bounds;
  }

  backlogBelow(n: number): Promise<void> {
    return this.#dispatch.below(n);
  }

  /**
   * The future's cancel() of a job not yet started: taken out of the backlog,
   * or, when `kill`, killed on the worker it was just handed to.
   */
  #cancel(job: Job, kill: boolean): boolean {
    if (this.#dispatch.remove(job)) {
      this.#settle(
        job,
        'cancelled',
        new CancelledError(`task ${label(job)} was cancelled before it started`),
      );
      return true;
    }
    if (kill && job.worker) {
      this.#kill(
        job,
        new CancelledError(`task ${label(job)} was cancelled while starting`),
        'killed',
      );
      return true;
    }
    return false;
  }

  #softTimedOut(job: Job): void {
    const worker = job.worker;
    if (!worker || worker.job !== job) return;
    this.#emit('taskTimeout', { pid: worker.pid, name: job.options.name, soft: true });
    try {
      worker.send({ t: 'abort', id: job.id });
    } catch {
      // the worker is going away; its exit settles the job
    }
  }

  #timedOut(job: Job, why: string): void {
    const worker = job.worker;
    if (!worker || worker.job !== job) return;
    this.stats.timedOut++;
    const error = new TimeoutError(
      `task ${label(job)} ${why}; worker ${worker.pid} was killed with its process tree`,
    );
    this.#kill(job, error, 'timeout');
    this.#emit('taskTimeout', { pid: worker.pid, name: job.options.name, soft: false });
  }

  #memoryKill(worker: Worker, rss: number): void {
    const job = worker.job;
    if (!job || worker.state !== 'busy') return;
    const error = new MemoryLimitError(
      `task ${label(job)} passed memoryLimitBytes (${this.settings.memoryLimitBytes} bytes): its worker's process tree used ${rss} bytes; worker ${worker.pid} was killed`,
      { pid: worker.pid, exitCode: null, signal: 'SIGKILL', taskName: job.options.name, rss },
    );
    this.#kill(job, error, 'memory');
  }

  /** Settle the job with `error`, then SIGKILL its worker's tree; the fleet replaces it. */
  #kill(job: Job, error: Error, reason: ExitReason): void {
    const worker = job.worker;
    if (!worker || worker.job !== job || job.future.done()) return;
    worker.kill(reason);
    this.#settle(job, error instanceof CancelledError ? 'cancelled' : 'failed', error);
  }

  #onResult(worker: Worker, message: WorkerMessage & { t: 'ok' | 'err' }): void {
    const job = worker.job;
    if (!job || job.id !== message.id || worker.state !== 'busy') return; // late: the job was settled
    worker.finishTask();
    // The worker's fate is decided before the future settles.
    this.#fleet.afterTask(worker, message.rss ?? 0, this.#dispatch.waiting);
    if (message.t === 'err') {
      this.#settle(job, 'failed', fromWire(message.error));
    } else if (job.batch) {
      const outcomes = (message.value as Outcome[]).map(
        ([ok, value]) => [ok, ok ? value : fromWire(value)] as Outcome<unknown>,
      );
      const failed = outcomes.filter(([ok]) => !ok).length;
      this.#settle(job, 'completed', outcomes, job.size - failed);
    } else {
      this.#settle(job, 'completed', message.value);
    }
  }

  /**
   * The one way a job ends: statistics (before the future settles), its
   * clocks, its signal listener, its slot, then the future itself. A job
   * already settled is left alone. `completed` counts the items of a batch
   * that succeeded; the rest count as failed.
   */
  #settle(job: Job, outcome: Outcome3, value: unknown, completed = job.size): void {
    if (job.future.done()) return;
    const stats = this.stats;
    if (outcome === 'completed') {
      stats.completed += completed;
      stats.failed += job.size - completed;
    } else if (outcome === 'failed') stats.failed += job.size;
    else stats.cancelled += job.size;
    if (job.worker) stats.runTime.add(performance.now() - job.startedAt);
    this.#deadlines.clear(job);
    job.unlisten?.();
    this.#dispatch.release(job);
    this.#life.jobSettled();
    settleFuture(job.future, outcome === 'completed', value, outcome === 'cancelled');
  }

  // ---- workers -------------------------------------------------------------

  #onMessage(worker: Worker, message: WorkerMessage): void {
    switch (message.t) {
      case 'ok':
      case 'err':
        this.#onResult(worker, message);
        return;
      case 'started':
        this.#dispatch.onStarted(worker, message.id);
        return;
      case 'progress': {
        const job = worker.job;
        if (job?.id === message.id) progressFuture(job.future, message.value);
        return;
      }
      case 'ready':
        if (worker.state !== 'starting') return;
        this.#fleet.onReady(worker, this.#dispatch.waiting);
        this.#life.workerReady();
        return;
    }
  }

  /** Every worker state change: memory sampling while busy, p-queue slots, replacements. */
  #onTransition(worker: Worker, from: WorkerState, to: WorkerState): void {
    if (to === 'busy') this.#memory.watch(worker);
    else if (from === 'busy') this.#memory.unwatch(worker);
    const { idle, busy } = this.#fleet.counts;
    this.#dispatch.setSlots(idle + busy);
    // Forking is synchronous and slow: let the settled future's awaiters run first.
    if (to === 'dying') setImmediate(() => this.#replenish());
  }

  #onExit(
    worker: Worker,
    exitCode: number | null,
    signal: NodeJS.Signals | null,
    reason: ExitReason,
  ): void {
    const job = worker.job;
    if (job && !job.future.done()) {
      // Died before it confirmed the task: the task never ran and waits for another worker.
      if (job.acked || !this.#dispatch.requeue(job)) {
        this.#settle(job, 'failed', processError(job, worker, exitCode, signal));
      }
    }
    this.#emit('workerExit', { pid: worker.pid, exitCode, signal, reason });
    setImmediate(() => this.#replenish());
    this.#life.check();
  }

  /** Workers keep failing to start: what waits for one fails. */
  #failing(failure: WorkerStartError): void {
    for (const job of this.#dispatch.drain()) this.#settle(job, 'failed', failure);
    this.#life.failReady(failure);
  }

  #replenish(): void {
    this.#fleet.replenish(this.#fleet.counts.busy + this.#dispatch.waiting);
  }

  // ---- lifecycle -----------------------------------------------------------

  ready(): Promise<void> {
    return this.#life.ready();
  }

  setBounds(bounds: Bounds): void {
    this.#fleet.setBounds(bounds);
  }

  /** Retire every current worker gracefully and start fresh ones; resolves when the old ones are gone. */
  recycle(): Promise<void> {
    const old = this.#fleet.recycle();
    return this.#life.whenTrue(() => old.every((w) => w.state === 'exited'));
  }

  /** Begin shutting down, as the table in the README's "Pool methods" says. */
  close(wait: boolean, cancelFutures: boolean): Promise<void> {
    this.#life.beginClose();
    if (cancelFutures || !wait) {
      for (const job of this.#dispatch.drain()) {
        this.#settle(
          job,
          'cancelled',
          new CancelledError(`task ${label(job)} was cancelled by shutdown`),
        );
      }
    }
    if (cancelFutures && !wait) {
      for (const { job } of this.#fleet.busyWorkers()) {
        if (!job) continue;
        const error = new CancelledError(
          `task ${label(job)} was cancelled by shutdown; its worker was killed`,
        );
        this.#kill(job, error, 'killed');
      }
    }
    this.#fleet.close(this.#dispatch.waiting);
    const gone = this.#life.whenClosed();
    this.#life.check();
    return !wait && !cancelFutures ? Promise.resolve() : gone;
  }

  snapshot(): DeadpoolStatistics {
    const { starting, idle, busy, retiring } = this.#fleet.counts;
    return this.stats.snapshot(
      starting + idle + busy + retiring,
      idle,
      busy,
      this.#dispatch.waiting,
    );
  }
}
