/**
 * The engine behind the facade keeps the job lifecycle: a job is submitted,
 * waits, runs, and ends. Ending has two halves: `#settle`, the one way a
 * future settles (statistics first), and `#leave`, the one way a job gives
 * its worker back (its clocks stop, it leaves). Most paths do both (`#finish`); a
 * cooperative abort settles at once and leaves when the task ends. What ends
 * a job early is interrupts.ts's. The engine routes the workers' job
 * messages; it owns no worker state (worker.ts, fleet.ts), no backlog
 * (dispatch.ts), no timer (deadlines.ts) and no waiting on the pool
 * (lifecycle.ts).
 */
import { codeCacheNews, saveCodeCache } from '../shared/code-cache.js';
import type { WorkerStartError } from '../shared/errors.js';
import { fromWire, type Outcome, type TaskSpec, type WorkerMessage } from '../shared/protocol.js';
import { Deadlines } from './deadlines.js';
import { debug } from './debug.js';
import { Dispatcher } from './dispatch.js';
import type { Emit, ExitReason } from './events.js';
import { processError } from './exit-message.js';
import { Fleet } from './fleet.js';
import { NO_USAGE, type TaskUsage } from './containment/usage.js';
import { Future, progressFuture, settleFuture, usageFuture, type CancelHooks } from './future.js';
import { Interrupts, cancelled, startedWhenKilled, type Ending } from './interrupts.js';
import { cancelledBySignal, Job } from './job.js';
import { Lifecycle } from './lifecycle.js';
import { MemoryWatch } from './memory.js';
import { workerDemand } from './policy.js';
import { renderMetrics, type MetricsSettings } from './metrics.js';
import type { Observer } from './observer.js';
import type { Bounds, Settings } from './options.js';
import type { JobOptions } from './submit-options.js';
import { Stats, type DeadpoolStatistics } from './stats.js';
import { TaskStream } from './stream.js';
import type { Spawn, Worker, WorkerState } from './worker.js';

/**
 * The pool's code cache file, when this process found none (a machine's
 * first run of this build), is written this long (ms) after the process's
 * first future settled, or right after its first shutdown if that comes
 * first: a service that is never shut down gets one too. ~2 ms of CPU, once.
 */
export const CODE_CACHE_WRITE_MS = 1_000;
/** That write is planned (once per process: the cache's registry is the process's). */
let codeCacheWritePlanned = false;

export class Engine {
  readonly settings: Settings;
  readonly stats = new Stats();
  readonly #emit: Emit;
  readonly #fleet: Fleet;
  readonly #dispatch: Dispatcher;
  readonly #deadlines: Deadlines;
  readonly #life: Lifecycle;
  readonly #memory: MemoryWatch;
  readonly #observer: Observer;
  readonly #interrupts: Interrupts;
  readonly #hooks: CancelHooks<Job> = {
    cancel: (job, kill) => this.#interrupts.cancel(job, kill),
    kill: (job) =>
      this.#interrupts.kill(job, cancelled(job, 'was cancelled while running'), 'killed'),
  };
  #nextId = 1;

  /**
   * The parts are made in the order they depend on each other; the hooks
   * between them are called only once workers run (spawned last). `spawn`:
   * how a worker process is made (fork; tests pass a fake).
   */
  constructor(settings: Settings, observer: Observer, emit: Emit, spawn?: Spawn) {
    this.settings = settings;
    this.#emit = emit;
    this.#observer = observer;
    this.#memory = new MemoryWatch(
      settings.memoryLimitBytes,
      settings.memorySampleInterval,
      (watched, rss) => {
        const worker = watched as Worker;
        if (rss !== Infinity) this.#interrupts.memoryKill(worker, rss);
        else if (worker.job) {
          this.#interrupts.memoryKill(worker, worker.usageOfRunning().peakMemoryBytes, true);
        }
      },
      // With the kernel's memory cap, the kernel enforces it: look for its OOM kills instead.
      settings.containment.info.limits.includes('memory') ? kernelMemory : undefined,
    );
    this.#deadlines = new Deadlines({
      expired: (job, why) => this.#interrupts.timedOut(job, why),
      soft: (job) => this.#interrupts.abortTask(job),
      queue: (job) => this.#interrupts.queueTimedOut(job),
      stopped: (job) => this.#interrupts.stopExpired(job),
    });
    this.#fleet = new Fleet(
      settings,
      this.stats,
      {
        message: (worker, message) => this.#onMessage(worker, message),
        transition: (worker, from, to) => this.#onTransition(worker, from, to),
        exit: (worker, code, signal, reason) => this.#onExit(worker, code, signal, reason),
        failing: (failure) => this.#failing(failure),
        started: (info) => this.#emit('workerStart', info),
        draining: (worker) => this.#dispatch.reclaim(worker),
      },
      spawn,
    );
    this.#dispatch = new Dispatcher(settings, this.#fleet, this.#deadlines, this.stats, {
      unsendable: (job, error) => this.#finish(job, 'failed', error),
      dropped: (job) => this.#leave(job),
      unloadable: (error) => this.#failWaiting(error),
    });
    this.#interrupts = new Interrupts({
      ends: {
        settle: (job, ending, value) => this.#settle(job, ending, value),
        finish: (job, ending, value) => this.#finish(job, ending, value),
      },
      dispatch: this.#dispatch,
      deadlines: this.#deadlines,
      stats: this.stats,
      settings,
      emit,
    });
    this.#life = new Lifecycle(this.#fleet, settings.maxWorkers, {
      windDown: () => this.#fleet.windDown(this.#dispatch.unassigned),
      quiet: () => {
        this.#fleet.stopTimers();
        this.#memory.stop();
      },
    });
    if (debug.enabled) for (const line of codeCacheNews()) debug(line);
    this.#fleet.start(settings.maxWorkers);
  }

  // ---- jobs ----------------------------------------------------------------

  /**
   * Queue a task. With `batch`, `args` is a list of argument lists run one
   * after the other on one worker (for `map`); the future resolves with one
   * Outcome per item, and statistics count each item as a task.
   */
  submit<T>(spec: TaskSpec, args: unknown[], options: JobOptions, batch = false): Future<T> {
    return this.#add(new Job(this.#nextId++, spec, args, options, batch, this.#hooks)) as Future<T>;
  }

  /** Queue a generator task whose values are read from the returned stream as they come. */
  stream<T>(
    spec: TaskSpec,
    args: unknown[],
    options: JobOptions,
    highWaterMark: number,
  ): TaskStream<T> {
    const job = new Job(this.#nextId++, spec, args, options, false, (job) => {
      const stream = new TaskStream<unknown>(new Future(this.#hooks, job), highWaterMark, {
        credit: (n) => this.#interrupts.credit(job, n),
        stop: () => this.#interrupts.stopStream(job),
      });
      return { future: stream.future, stream };
    });
    this.#add(job);
    return job.stream as TaskStream<T>;
  }

  #add(job: Job): Future<unknown> {
    const { options } = job;
    if (options.onProgress) job.future.addProgressCallback(options.onProgress);
    this.#observer.submitted(job);
    this.stats.received += job.size;
    this.#life.jobAdded();
    const { signal } = options;
    if (signal?.aborted) {
      this.#finish(job, 'cancelled', cancelledBySignal(job, signal));
      return job.future;
    }
    // Only a job with a signal can be aborted: one closure less per task without.
    if (signal) job.onAbort((aborted) => this.#interrupts.aborted(job, aborted));
    if (options.queueTimeout !== undefined) this.#deadlines.queue(job, options.queueTimeout);
    this.#dispatch.add(job);
    this.#replenish();
    return job.future;
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

  /** A job's result came (the dispatcher moved its worker on already): settle it. */
  #ended(job: Job, message: WorkerMessage & { t: 'ok' | 'err' }): void {
    if (message.t === 'err') {
      this.#finish(job, 'failed', fromWire(message.error));
    } else if (job.batch) {
      const outcomes = (message.value as Outcome[]).map(
        ([ok, value]) => [ok, ok ? value : fromWire(value)] as Outcome<unknown>,
      );
      const failed = outcomes.filter(([ok]) => !ok).length;
      this.#finish(job, 'completed', outcomes, job.size - failed);
    } else {
      this.#finish(job, 'completed', message.value);
    }
  }

  /** Settle the future, then give the worker back. */
  #finish(job: Job, ending: Ending, value: unknown, completed = job.size): void {
    this.#settle(job, ending, value, completed);
    this.#leave(job);
  }

  /**
   * The one way a future settles: statistics (before the future, so a read
   * after `await` counts it), the signal listener, then the future. A job
   * already settled is left alone. `completed` counts the items of a batch
   * that succeeded; the rest count as failed.
   */
  #settle(job: Job, ending: Ending, value: unknown, completed = job.size): void {
    if (job.future.done()) return;
    if (!codeCacheWritePlanned) planCodeCacheWrite();
    // A result brought its figures already (#onMessage); a task that ended another way is counted here.
    if (job.future.usage === undefined) usageFuture(job.future, endedUsage(job));
    const stats = this.stats;
    if (ending === 'completed') {
      stats.completed += completed;
      stats.failed += job.size - completed;
    } else if (ending === 'failed') stats.failed += job.size;
    else stats.cancelled += job.size;
    if (job.worker && job.startedAt > 0) stats.runTime.add(performance.now() - job.startedAt);
    this.#observer.settled(job, ending, value, completed);
    job.stream?.end(ending === 'completed', value);
    job.unlisten();
    this.#life.jobSettled();
    settleFuture(job.future, ending === 'completed', value, ending === 'cancelled');
  }

  /** The one way a job gives its worker back: its clocks stop and it leaves. */
  #leave(job: Job): void {
    this.#deadlines.clear(job);
    this.#dispatch.release(job);
  }

  // ---- workers -------------------------------------------------------------

  #onMessage(worker: Worker, message: WorkerMessage): void {
    switch (message.t) {
      case 'ok':
      case 'err': {
        const running = worker.running(message.id);
        const usage = worker.tally(message);
        if (running) usageFuture(running.future, usage);
        if (running && worker.state === 'busy' && worker.memoryExceeded()) {
          // The kernel OOM-killed a process of its tree (a child, say) and the task still ended.
          this.#interrupts.memoryKill(worker, usage.peakMemoryBytes, true);
          return;
        }
        // One path: the dispatcher moves the worker on, then the job settles.
        const job = this.#dispatch.taskEnded(worker, message);
        if (job === undefined) return;
        // Its module loads and runs: idle workers may import it ahead (fleet.ts).
        if (message.t === 'ok') this.#fleet.worked(job.spec);
        this.#ended(job, message);
        return;
      }
      case 'started':
        this.#dispatch.onStarted(worker, message.id);
        return;
      case 'dropped':
        this.#dispatch.onDropped(worker, message.ids);
        return;
      case 'progress': {
        const job = worker.running(message.id);
        if (job) progressFuture(job.future, message.value);
        return;
      }
      case 'yield': {
        const job = worker.running(message.id);
        job?.stream?.push(message.value);
        return;
      }
      case 'ready':
        worker.tally(message);
        if (worker.state !== 'starting') return;
        this.#fleet.onReady(worker, this.#dispatch.unassigned);
        this.#life.workerReady();
        return;
    }
  }

  /** Every worker state change: memory sampling while busy, dispatch's slots, replacements. */
  #onTransition(worker: Worker, from: WorkerState, to: WorkerState): void {
    if (to === 'busy') this.#memory.watch(worker);
    else if (from === 'busy') this.#memory.unwatch(worker);
    this.#dispatch.onTransition(worker, from, to);
    // Closing: a worker freed after the last job settled retires (its last
    // task was cancelled while it ran, or handed back unstarted: no result
    // brought it to retirement, and no settle is left to look again).
    if (to === 'idle' && this.#life.closing) queueMicrotask(() => this.#life.check());
    // A worker on its way out is replaced as the demand is then (never a
    // figure remembered from before); forking is synchronous and slow, so the
    // settled future's awaiters run first.
    if (to === 'dying' || to === 'retiring') setImmediate(() => this.#replenish());
  }

  #onExit(
    worker: Worker,
    exitCode: number | null,
    signal: NodeJS.Signals | null,
    reason: ExitReason,
  ): void {
    const [job, ...others] = worker.jobs;
    // Several tasks at once (concurrentTasksPerWorker): any of them may have
    // ended the process, so none runs again; each fails with what the exit was.
    const shared = others.length > 0;
    // A task it had not confirmed never ran: it waits for another worker; so
    // do the tasks that waited inside it and never started. (After a kill by
    // the pool, `job` is one of those that had: dispatch.ts, `#startedBeforeKill`.)
    for (const other of others) this.#failExit(other, worker, exitCode, signal);
    if (job && (shared || job.acked || job.future.done() || !this.#dispatch.requeue(job))) {
      this.#failExit(job, worker, exitCode, signal);
    }
    this.#dispatch.putBackQueued(worker);
    this.#emit('workerExit', { pid: worker.pid, exitCode, signal, reason });
    setImmediate(() => this.#replenish());
    this.#life.check();
  }

  /**
   * `job` died with its worker: a ProcessError naming the exit (MemoryLimitError
   * at the kernel's cap), or the task the pool killed the worker for.
   */
  #failExit(
    job: Job,
    worker: Worker,
    exitCode: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    const killed = worker.killedFor;
    if (killed) {
      this.#finish(job, 'failed', startedWhenKilled(job, killed, worker, exitCode, signal));
      return;
    }
    const error = worker.memoryExceeded()
      ? this.#interrupts.memoryError(job, worker, worker.usageOfRunning().peakMemoryBytes, true)
      : processError(job, worker, exitCode, signal);
    this.#finish(job, 'failed', error);
  }

  /** Workers keep failing to start: what waits for one fails. */
  #failing(failure: WorkerStartError): void {
    this.#failWaiting(failure);
    this.#life.failReady(failure);
  }

  /** What waits in the backlog can never get a worker: it fails with `error`. */
  #failWaiting(error: Error): void {
    for (const job of this.#dispatch.drain()) this.#finish(job, 'failed', error);
    // The demand fell with them: no start is planned for tasks that are gone.
    this.#replenish();
  }

  #replenish(): void {
    this.#fleet.replenish(
      workerDemand({
        busy: this.#fleet.counts.busy,
        unassigned: this.#dispatch.unassigned,
        perWorker: this.settings.concurrentTasksPerWorker,
      }),
    );
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

  /** Begin shutting down, as the table in docs/api.md, "Pool methods", says. */
  close(wait: boolean, cancelFutures: boolean): Promise<void> {
    this.#life.beginClose();
    if (cancelFutures || !wait) {
      for (const job of this.#dispatch.drain()) {
        this.#finish(job, 'cancelled', cancelled(job, 'was cancelled by shutdown'));
      }
      for (const worker of this.#fleet.holding()) {
        for (const job of [...worker.queued]) {
          this.#interrupts.unwait(job, 'cancelled', cancelled(job, 'was cancelled by shutdown'));
        }
      }
    }
    if (cancelFutures && !wait) {
      for (const worker of this.#fleet.busyWorkers()) {
        const [job, ...others] = worker.jobs;
        // Tasks running beside it end cancelled too (their kill then finds them settled).
        for (const other of others) {
          this.#settle(
            other,
            'cancelled',
            cancelled(other, 'was cancelled by shutdown; its worker was killed'),
          );
        }
        if (job)
          this.#interrupts.kill(
            job,
            cancelled(job, 'was cancelled by shutdown; its worker was killed'),
            'killed',
          );
      }
    }
    this.#fleet.close(this.#dispatch.unassigned, cancelFutures && !wait);
    // Then the cgroups the workers lived in, once empty; then, after the
    // promise has resolved, the code cache if this process found none.
    const gone = this.#life
      .whenClosed()
      .then(() => this.settings.containment.close())
      .then(() => void setImmediate(saveAndLog));
    this.#life.check();
    return !wait && !cancelFutures ? Promise.resolve() : gone;
  }

  snapshot(): DeadpoolStatistics {
    return this.stats.snapshot(
      this.#fleet.counts,
      this.#dispatch.waiting,
      this.#fleet.queuedTasks,
      this.#fleet.tasksRunning,
    );
  }

  /** The metrics in the Prometheus text format (metrics.ts). */
  metrics(settings: MetricsSettings): string {
    return renderMetrics(
      {
        stats: this.stats,
        tasks: this.#observer.tasks,
        workers: this.#fleet.counts,
        backlog: this.#dispatch.waiting,
        backlogLimit: this.settings.maxBacklog,
      },
      settings,
    );
  }
}

/** The kernel caps the tree: the worker's tree is over the limit when the kernel OOM-killed in it. */
/** What a task that ended without a result used: counted up to its end if it ran, else nothing. */
function endedUsage(job: Job): TaskUsage {
  const worker = job.worker;
  return worker && (job.place === 'running' || job.place === 'sent')
    ? worker.usageOfRunning()
    : NO_USAGE;
}

function kernelMemory(worker: { memoryExceeded?(): boolean }): number {
  return worker.memoryExceeded?.() ? Infinity : 0;
}

/** The process's first future settles: its code cache is written CODE_CACHE_WRITE_MS later. */
function planCodeCacheWrite(): void {
  codeCacheWritePlanned = true;
  setTimeout(saveAndLog, CODE_CACHE_WRITE_MS).unref();
}

/** Write the code cache files this process lacked (once), and say so in debug output. */
function saveAndLog(): void {
  for (const line of saveCodeCache()) debug(line);
}
