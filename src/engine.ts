/**
 * The engine behind the facade: jobs in, workers out. It hands a job to an
 * idle worker, keeps its deadline, settles its future exactly once, decides
 * each worker's fate after each task, and replaces workers that die.
 */
import { Backlog } from './backlog.js';
import {
  CancelledError,
  MemoryLimitError,
  ProcessError,
  SerializationError,
  TimeoutError,
  WorkerStartError,
} from './errors.js';
import { debug } from './debug.js';
import { Fleet, MAX_START_FAILURES } from './fleet.js';
import { Future, settleFuture, startFuture, type CancelHooks } from './future.js';
import { KeepAlive } from './keep-alive.js';
import { MemoryWatch } from './memory.js';
import type { JobOptions, Settings } from './options.js';
import type { BatchOutcome, ParentMessage, TaskSpec, WorkerMessage } from './protocol.js';
import { Stats, type ExitReason } from './stats.js';
import type { WorkerProcess } from './worker.js';
import { describeExit } from './exit-message.js';
import { cancelledBySignal, createJob, label, rebuild, type Job } from './job.js';

type Worker = WorkerProcess<Job>;

export interface EngineEvents {
  workerStart(info: { pid: number }): void;
  workerExit(info: {
    pid: number;
    exitCode: number | null;
    signal: NodeJS.Signals | null;
    reason: ExitReason;
  }): void;
  taskTimeout(info: { pid: number; name: string | undefined; soft: boolean }): void;
}

type Emit = <K extends keyof EngineEvents>(name: K, info: Parameters<EngineEvents[K]>[0]) => void;

/** A worker idle longer than this confirms it has a task before the task counts as started. */
const IDLE_ACK_MS = 1;

export class Engine {
  readonly settings: Settings;
  readonly stats = new Stats();
  readonly #emit: Emit;
  readonly #backlog: Backlog<Job>;
  readonly #fleet: Fleet<Job>;
  readonly #keepAlive = new KeepAlive();
  readonly #hooks: CancelHooks<Job> = {
    cancel: (job, kill) => this.#cancel(job, kill),
    kill: (job) =>
      this.#killJob(
        job,
        new CancelledError(`task ${label(job)} was cancelled while running`),
        'killed',
      ),
  };
  readonly #memory: MemoryWatch;
  #busy = 0;
  #active = 0; // jobs submitted and not yet settled
  #nextId = 1;
  #closing = false;
  #readyCount = 0;
  #readyTarget: number;
  #readyWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  #exitWaiters: { check: () => boolean; resolve: () => void }[] = [];

  constructor(settings: Settings, emit: Emit) {
    this.settings = settings;
    this.#emit = emit;
    this.#backlog = new Backlog<Job>((job) => this.#start(job));
    this.#memory = new MemoryWatch(
      settings.memoryLimitBytes,
      settings.memorySampleInterval,
      (worker, rss) => this.#memoryKill(worker as Worker, rss),
    );
    this.#fleet = new Fleet<Job>(settings, this.stats, {
      message: (worker, message) => this.#onMessage(worker, message),
      exit: (worker, code, signal, reason) => this.#onExit(worker, code, signal, reason),
      disconnect: (worker) => this.#onDisconnect(worker),
      demand: () => this.#busy + this.#backlog.size,
      waiting: () => this.#backlog.size,
      closing: () => this.#closing,
      failing: (failure) => this.#failing(failure),
      started: (info) => this.#emit('workerStart', info),
      shrunk: () => this.#syncSlots(),
    });
    this.#readyTarget = settings.maxWorkers;
    for (let i = 0; i < settings.maxWorkers; i++) this.#fleet.spawn();
  }

  // ---- jobs ----------------------------------------------------------------

  /**
   * Queue a task. With `batch`, `args` is a list of argument lists run one
   * after the other on one worker (for `map`); the future resolves with one
   * BatchOutcome per item, and statistics count each item as a task.
   */
  submit<T>(spec: TaskSpec, args: unknown[], options: JobOptions, batch = false): Future<T> {
    const job = createJob(this.#nextId++, spec, args, options, batch);
    job.future = new Future(this.#hooks, job);
    this.stats.received += job.size;
    this.#active++;
    const { signal } = options;
    if (signal?.aborted) {
      this.#finishCancelled(job, cancelledBySignal(job, signal));
      return job.future as Future<T>;
    }
    if (signal) {
      const onAbort = (): void => {
        const error = cancelledBySignal(job, signal);
        if (job.worker) this.#killJob(job, error, 'killed');
        else if (this.#backlog.remove(job)) this.#finishCancelled(job, error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      job.unlisten = () => signal.removeEventListener('abort', onAbort);
    }
    this.#keepAlive.set(true);
    this.#backlog.add(job);
    this.#fleet.replenish();
    return job.future as Future<T>;
  }

  get backlogSize(): number {
    return this.#backlog.size;
  }

  backlogBelow(n: number): Promise<void> {
    return this.#backlog.below(n);
  }

  /**
   * The future's cancel() of a job not yet started: taken out of the backlog,
   * or, when `kill`, killed on the worker it was just handed to.
   */
  #cancel(job: Job, kill: boolean): boolean {
    if (this.#backlog.remove(job)) {
      this.#finishCancelled(
        job,
        new CancelledError(`task ${label(job)} was cancelled before it started`),
      );
      return true;
    }
    if (kill && job.worker) {
      this.#killJob(
        job,
        new CancelledError(`task ${label(job)} was cancelled while starting`),
        'killed',
      );
      return true;
    }
    return false;
  }

  /** Called by the backlog when a worker is idle: hand it the job. */
  #start(job: Job): Promise<void> {
    const worker = this.#fleet.idle.pop();
    if (worker === undefined) {
      // Cannot happen while slots are kept right; never lose the job if it does.
      debug('no idle worker for job %d; re-queued', job.id);
      this.#backlog.add(job);
      this.#syncSlots();
      return Promise.resolve();
    }
    const released = new Promise<void>((resolve) => (job.release = resolve));
    worker.state = 'busy';
    worker.job = job;
    job.worker = worker;
    this.#busy++;
    // The worker confirms ('started') before the task counts as running (pid,
    // callbacks) if it must first import the task's module (the import does not
    // count against the timeout either), or if it sat idle and may have died
    // unseen: a task whose worker dies before that word never ran, and goes
    // back to the backlog.
    const now = performance.now();
    const load = job.spec.kind === 'module' && !worker.loaded.has(job.spec.module);
    const ack = load || now - worker.idleSince > IDLE_ACK_MS;
    try {
      const message: ParentMessage = { t: 'run', id: job.id, spec: job.spec, args: job.args };
      if (ack) message.ack = true;
      if (job.batch) message.batch = true;
      worker.send(message);
    } catch (error) {
      worker.state = 'idle';
      worker.job = undefined;
      job.worker = undefined;
      this.#busy--;
      if (worker.disconnected) {
        this.#backlog.add(job); // never handed over: it waits for another worker
        this.#onDisconnect(worker);
      } else {
        this.#fleet.idle.push(worker);
        const reason = error instanceof Error ? error.message : String(error);
        this.#fail(
          job,
          new SerializationError(
            `the arguments of task ${label(job)} cannot be serialized: ${reason}`,
          ),
        );
      }
      job.release?.();
      return released;
    }
    job.startedAt = now;
    this.stats.launched += job.size;
    this.stats.noteBusy(this.#busy);
    this.stats.queueWait.add(now - job.submittedAt);
    this.#memory.watch(worker);
    if (load) {
      // The import does not count: until the worker has the module, only startTimeout runs.
      job.acked = false;
      const ms = this.settings.startTimeout;
      const why = `did not start: its module did not load within ${ms} ms`;
      job.timer = setTimeout(() => this.#timedOut(job, ms, why), ms);
    } else if (ack) {
      // The deadline counts from the hand-off; the future runs once the worker confirms.
      job.acked = false;
      this.#startClock(job);
    } else {
      this.#begin(job, worker);
    }
    return released;
  }

  /** The task runs: its future learns the pid (and its deadline starts, unless it has). */
  #begin(job: Job, worker: Worker, clockStarted = false): void {
    job.acked = true;
    if (!clockStarted) this.#startClock(job);
    startFuture(job.future, worker.pid);
  }

  #startClock(job: Job): void {
    const { timeout, softTimeout } = job.options;
    if (timeout !== undefined) job.timer = setTimeout(() => this.#timedOut(job, timeout), timeout);
    if (softTimeout !== undefined) {
      job.softTimer = setTimeout(() => this.#softTimedOut(job), softTimeout);
    }
  }

  /** The worker has the task (its module loaded): it runs from now. */
  #onStarted(worker: Worker, id: number): void {
    const job = worker.job;
    if (!job || job.id !== id || job.future.done()) return;
    if (job.spec.kind === 'module' && !worker.loaded.has(job.spec.module)) {
      worker.loaded.add(job.spec.module);
      if (job.timer) clearTimeout(job.timer);
      job.timer = undefined;
      this.#begin(job, worker);
    } else {
      this.#begin(job, worker, true);
    }
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

  #timedOut(job: Job, timeout: number, why = `timed out after ${timeout} ms`): void {
    const worker = job.worker;
    if (!worker || worker.job !== job) return;
    this.stats.timedOut++;
    const error = new TimeoutError(
      `task ${label(job)} ${why}; worker ${worker.pid} was killed with its process tree`,
    );
    this.#killJob(job, error, 'timeout');
    this.#emit('taskTimeout', { pid: worker.pid, name: job.options.name, soft: false });
  }

  #memoryKill(worker: Worker, rss: number): void {
    const job = worker.job;
    if (!job || worker.state !== 'busy') return;
    const error = new MemoryLimitError(
      `task ${label(job)} passed memoryLimitBytes (${this.settings.memoryLimitBytes} bytes): its worker's process tree used ${rss} bytes; worker ${worker.pid} was killed`,
      { pid: worker.pid, exitCode: null, signal: 'SIGKILL', taskName: job.options.name, rss },
    );
    this.#killJob(job, error, 'memory');
  }

  /** Settle the job with `error`, then SIGKILL its worker's tree, then replace the worker. */
  #killJob(job: Job, error: Error, reason: ExitReason): void {
    const worker = job.worker;
    if (!worker || worker.job !== job || job.future.done()) return;
    this.#leaveService(worker, reason);
    if (error instanceof CancelledError) this.#finishCancelled(job, error);
    else this.#fail(job, error);
    worker.kill(reason);
    job.release?.();
    this.#syncSlots();
    setImmediate(() => this.#fleet.replenish());
  }

  #onResult(worker: Worker, message: WorkerMessage & { t: 'ok' | 'err' }): void {
    const job = worker.job;
    if (!job || job.id !== message.id || worker.state !== 'busy') return; // late: the job was settled
    worker.tasksRun++;
    this.#afterTask(worker, message.rss ?? 0);
    if (message.t === 'ok' && job.batch) {
      const outcomes = (message.value as BatchOutcome[]).map(([ok, value]): [boolean, unknown] => [
        ok,
        ok ? value : rebuild(value),
      ]);
      const failed = outcomes.filter(([ok]) => !ok).length;
      this.#count(job, 'completed', job.size - failed, failed);
      settleFuture(job.future, true, outcomes);
    } else if (message.t === 'ok') {
      this.#count(job, 'completed');
      settleFuture(job.future, true, message.value);
    } else {
      this.#fail(job, rebuild(message.error));
    }
    job.release?.();
    this.#syncSlots();
  }

  /** Decide the worker's fate after a task; done before the future settles. */
  #afterTask(worker: Worker, rss: number): void {
    worker.job = undefined;
    this.#busy--;
    this.#memory.unwatch(worker);
    const s = this.settings;
    const reason: ExitReason | undefined =
      worker.retireAfterTask ??
      (worker.tasksRun >= s.maxTasksPerChild
        ? 'maxTasks'
        : rss >= s.maxWorkerMemoryBytes
          ? 'memory'
          : worker.generation !== this.#fleet.generation
            ? 'recycle'
            : this.#closing && this.#backlog.size === 0
              ? 'shutdown'
              : this.#fleet.aliveCount() > s.maxWorkers
                ? 'idle'
                : undefined);
    if (reason !== undefined) {
      this.#fleet.retire(worker, reason);
      setImmediate(() => this.#fleet.replenish());
    } else {
      this.#fleet.becomeIdle(worker);
    }
  }

  #fail(job: Job, error: unknown): void {
    this.#count(job, 'failed');
    settleFuture(job.future, false, error);
  }

  #finishCancelled(job: Job, error: CancelledError): void {
    this.#count(job, 'cancelled');
    settleFuture(job.future, false, error, true);
  }

  /** Statistics and bookkeeping of a job that is about to settle. */
  #count(
    job: Job,
    outcome: 'completed' | 'failed' | 'cancelled',
    completed = job.size,
    failed = 0,
  ): void {
    if (job.future.done()) return;
    if (outcome === 'completed') {
      this.stats.completed += completed;
      this.stats.failed += failed;
    } else if (outcome === 'failed') this.stats.failed += job.size;
    else this.stats.cancelled += job.size;
    if (job.worker) this.stats.runTime.add(performance.now() - job.startedAt);
    if (job.timer) clearTimeout(job.timer);
    if (job.softTimer) clearTimeout(job.softTimer);
    job.unlisten?.();
    this.#active--;
    if (this.#active === 0) queueMicrotask(() => this.#checkQuiet());
  }

  // ---- workers -------------------------------------------------------------

  #onMessage(worker: Worker, message: WorkerMessage): void {
    switch (message.t) {
      case 'ok':
      case 'err':
        this.#onResult(worker, message);
        return;
      case 'started':
        this.#onStarted(worker, message.id);
        return;
      case 'ready':
        if (worker.state !== 'starting') return;
        this.#fleet.onReady(worker);
        this.#readyCount++;
        this.#resolveReady();
        this.#syncSlots();
        return;
      case 'initFailed':
        worker.startError = rebuild(message.error) as Error;
        return;
      case 'fatal':
        worker.fatal = { kind: message.kind, error: rebuild(message.error) };
        return;
      case 'finalized':
        if (message.error) {
          const error = rebuild(message.error);
          process.emitWarning(
            `the finalizer of worker ${worker.pid} threw: ${error instanceof Error ? error.message : String(error)}`,
            { code: 'DEADPOOL_FINALIZER' },
          );
        }
        return;
    }
  }

  #onDisconnect(worker: Worker): void {
    if (worker.state === 'idle') {
      this.#fleet.removeIdle(worker);
      worker.state = 'dying';
      this.#syncSlots();
      setImmediate(() => this.#fleet.replenish());
    }
  }

  #onExit(
    worker: Worker,
    exitCode: number | null,
    signal: NodeJS.Signals | null,
    reason: ExitReason,
  ): void {
    this.#memory.unwatch(worker);
    const job = worker.job;
    if (job) {
      worker.job = undefined;
      this.#busy--;
      if (!job.future.done() && !job.acked && !job.requeued) {
        // It died before it started the task: the task never ran, so it waits
        // for another worker (once; a task whose module kills its worker fails next time).
        this.#requeue(job);
      } else if (!job.future.done()) {
        const details = {
          pid: worker.pid,
          exitCode,
          signal,
          taskName: job.options.name,
          stderr: worker.stderrTail,
        };
        const cause = worker.fatal?.error;
        this.#fail(
          job,
          new ProcessError(
            describeExit(label(job), worker, exitCode, signal),
            details,
            cause ? { cause } : undefined,
          ),
        );
      }
      job.release?.();
    }
    this.#emit('workerExit', { pid: worker.pid, exitCode, signal, reason });
    this.#syncSlots();
    // Forking is synchronous and slow: let the settled future's awaiters run first.
    setImmediate(() => this.#fleet.replenish());
    this.#checkQuiet();
  }

  #requeue(job: Job): void {
    if (job.timer) clearTimeout(job.timer);
    if (job.softTimer) clearTimeout(job.softTimer);
    job.timer = job.softTimer = undefined;
    job.worker = undefined;
    job.requeued = true;
    this.stats.launched -= job.size;
    debug('task %s goes back to the backlog: its worker died before starting it', label(job));
    this.#backlog.add(job);
  }

  /** Workers keep failing to start: what waits for one fails. */
  #failing(failure: WorkerStartError): void {
    for (const job of this.#backlog.drain()) this.#fail(job, failure);
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const waiter of waiters) waiter.reject(failure);
  }

  /** Take a worker out of service: it will get no more tasks. */
  #leaveService(worker: Worker, reason: ExitReason): void {
    if (worker.state === 'busy') {
      this.#busy--;
      this.#memory.unwatch(worker);
      worker.job = undefined;
    }
    this.#fleet.removeIdle(worker);
    worker.exitReason ??= reason;
  }

  /** p-queue may start as many jobs as there are workers taking work. */
  #syncSlots(): void {
    this.#backlog.setSlots(this.#fleet.idle.length + this.#busy);
  }

  // ---- lifecycle -----------------------------------------------------------

  ready(): Promise<void> {
    if (this.#readyCount >= this.#readyTarget || this.#closing) return Promise.resolve();
    const { startFailures, lastStartError } = this.#fleet;
    if (startFailures >= MAX_START_FAILURES) {
      return Promise.reject(
        new WorkerStartError(`workers keep failing to start: ${lastStartError?.message}`, {
          cause: lastStartError,
        }),
      );
    }
    this.#keepAlive.set(true);
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  #resolveReady(): void {
    if (this.#readyCount < this.#readyTarget) return;
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const waiter of waiters) waiter.resolve();
    this.#checkQuiet();
  }

  setBounds(minWorkers: number, maxWorkers: number): void {
    this.#fleet.setBounds(minWorkers, maxWorkers);
    this.#syncSlots();
    this.#fleet.replenish();
  }

  /** Retire every current worker gracefully and start fresh ones; resolves when the old ones are gone. */
  recycle(): Promise<void> {
    const old = this.#fleet.recycle();
    this.#syncSlots();
    return this.#whenExited(() => old.every((w) => w.state === 'exited'));
  }

  /** Begin shutting down: see the table in SPEC §7. */
  close(wait: boolean, cancelFutures: boolean): Promise<void> {
    this.#closing = true;
    this.#fleet.stopIdleSweep();
    const workers = this.#fleet.workers;
    if (cancelFutures || !wait) {
      for (const job of this.#backlog.drain()) {
        this.#finishCancelled(
          job,
          new CancelledError(`task ${label(job)} was cancelled by shutdown`),
        );
      }
    }
    if (cancelFutures && !wait) {
      for (const worker of [...workers]) {
        const job = worker.job;
        if (job && worker.state === 'busy') {
          this.#killJob(
            job,
            new CancelledError(
              `task ${label(job)} was cancelled by shutdown; its worker was killed`,
            ),
            'killed',
          );
        }
      }
    }
    for (const worker of [...workers]) {
      if (worker.state === 'idle' && this.#backlog.size === 0)
        this.#fleet.retire(worker, 'shutdown');
      else if (worker.state === 'starting' && this.#backlog.size === 0) worker.kill('shutdown');
    }
    this.#syncSlots();
    this.#keepAlive.set(workers.size > 0 || this.#active > 0);
    const gone = this.#whenExited(() => workers.size === 0 && this.#active === 0);
    if (!wait && !cancelFutures) return Promise.resolve();
    return gone;
  }

  #whenExited(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    this.#keepAlive.set(true);
    return new Promise((resolve) => this.#exitWaiters.push({ check, resolve }));
  }

  /** Release waiters whose condition now holds; drop timers and the keep-alive when there is nothing to do. */
  #checkQuiet(): void {
    if (this.#exitWaiters.length > 0) {
      this.#exitWaiters = this.#exitWaiters.filter((waiter) => {
        if (!waiter.check()) return true;
        waiter.resolve();
        return false;
      });
    }
    const workers = this.#fleet.workers;
    if (this.#closing && this.#active === 0) {
      for (const worker of [...workers]) {
        if (worker.state === 'idle') this.#fleet.retire(worker, 'shutdown');
      }
    }
    const busy =
      this.#active > 0 ||
      this.#readyWaiters.length > 0 ||
      this.#exitWaiters.length > 0 ||
      (this.#closing && workers.size > 0);
    this.#keepAlive.set(busy);
    if (this.#closing && workers.size === 0 && this.#active === 0) {
      this.#fleet.stopTimers();
      this.#memory.stop();
    }
  }

  snapshot(): ReturnType<Stats['snapshot']> {
    let alive = 0;
    for (const w of this.#fleet.workers) if (w.state !== 'dying' && w.state !== 'exited') alive++;
    return this.stats.snapshot(alive, this.#fleet.idle.length, this.#busy, this.#backlog.size);
  }
}
