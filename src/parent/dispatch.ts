/**
 * Dispatch: pairs the backlog with workers, and is the one module that moves
 * a job (job.ts's moves) on its way from the backlog to a worker and back.
 *
 * The backlog is p-queue (backlog.ts), used as p-queue means: one slot per
 * worker that can take work (its concurrency follows the fleet), a job's
 * function runs when a slot is free and holds that slot while its worker is
 * busy. A worker holds its slot from the hand-off until it stops being busy,
 * whatever tasks it runs back to back meanwhile (pipelining), so no slot is
 * ever passed between jobs by hand. Queueing ahead inside busy workers is
 * pipeline.ts's; settling a job is the engine's; the workers' fate is the
 * fleet's.
 *
 * A task queued inside a worker keeps every guarantee of a waiting task: it
 * still counts as waiting, starts its clock and counts as launched only when
 * the worker reports its start, can be dropped (cancel, queueTimeout, a
 * worker retiring), and goes back to the backlog, never failed, when its
 * worker dies. When the pool kills the worker (its running task timed out,
 * was killed, passed its memory limit), the tasks inside it wait there until
 * the exit, as for a worker that dies by itself: a start the worker reported
 * before the kill, read only after it, makes that task the one it ran and died
 * with (it fails; never run twice), and only the rest go back.
 *
 * With `concurrentTasksPerWorker` above 1 a worker runs several tasks at
 * once: each job then holds a slot of its own, from the hand-off until it
 * leaves its worker, the slots are the tasks running plus the room left in
 * the workers (Fleet#roomIn, which changes without a state change, so it is
 * resynced after each hand-off's end), and pipelining is off.
 */
import { SerializationError } from '../shared/errors.js';
import type { WorkerMessage } from '../shared/protocol.js';
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
import type { Worker, WorkerState } from './worker.js';

export interface DispatchHooks {
  /** The job's arguments cannot be serialized: it never ran; settle it with `error`. */
  unsendable(job: Job, error: SerializationError): void;
  /** A job that waited inside a worker was dropped there after its future settled: it leaves. */
  dropped(job: Job): void;
  /** A job waits and p-queue cannot be loaded (backlog.ts): what waits in the backlog fails with `error`. */
  unloadable(error: Error): void;
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
  /** The p-queue slot each busy worker holds; called when it stops being busy. */
  readonly #slots = new Map<Worker, () => void>();
  /** With several tasks per worker: the slot each job holds; called when it leaves its worker. */
  readonly #jobSlots = new Map<Job, () => void>();
  /** Handed over before their worker had their module: their first 'started' means loaded. */
  readonly #loading = new WeakSet<Job>();
  /** concurrentTasksPerWorker. */
  readonly #limit: number;
  #syncScheduled = false;

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
    this.#limit = settings.concurrentTasksPerWorker;
    this.#backlog = new Backlog<Job>(
      (job, release) => this.#take(job, release),
      () => this.#wake(),
      settings.maxRunningPerTenant,
      (error) => hooks.unloadable(error),
    );
    this.#pipeline = new Pipeline(this.#backlog, fleet, settings, {
      queue: (worker, job) => {
        job.queueIn(worker);
        worker.enqueue(job);
      },
      send: (worker, jobs) => this.#send(worker, jobs, true),
    });
  }

  /** Tasks waiting: in the backlog, and queued inside busy workers. */
  get waiting(): number {
    return this.#backlog.size + this.#fleet.queuedTasks;
  }

  /** Tasks waiting in the backlog, for no worker yet. */
  get unassigned(): number {
    return this.#backlog.size;
  }

  /** A new task: it waits in the backlog, which starts it at once if a worker is idle. */
  add(job: Job): void {
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
   * Ask `worker` to hand back `jobs` if they still wait inside it (answered
   * by `onDropped`). A worker the pool killed is not asked: its exit puts back
   * what never started.
   */
  drop(worker: Worker, jobs: readonly Job[]): void {
    if (worker.state === 'busy') this.#pipeline.drop(worker, jobs);
  }

  /** A busy worker will retire after its task: what waits inside it goes back. */
  reclaim(worker: Worker): void {
    this.#pipeline.drop(worker, worker.queued);
  }

  /**
   * Every worker state change: a worker that stops being busy frees its
   * slot; the slots follow the workers that can take work (on the next
   * microtask, so no job starts inside another worker's transition); an idle
   * worker may take tasks waiting inside busy ones.
   */
  onTransition(worker: Worker, from: WorkerState, to: WorkerState): void {
    if (from === 'busy') {
      const free = this.#slots.get(worker);
      this.#slots.delete(worker);
      free?.();
    }
    this.#syncSlots();
    if (to === 'idle') this.#pipeline.onIdle();
  }

  #syncSlots(): void {
    if (this.#syncScheduled) return;
    this.#syncScheduled = true;
    queueMicrotask(() => {
      this.#syncScheduled = false;
      if (this.#limit > 1) {
        this.#backlog.setSlots(this.#jobSlots.size + this.#fleet.room(this.#limit));
        return;
      }
      const { idle, busy } = this.#fleet.counts;
      this.#backlog.setSlots(idle + busy);
    });
  }

  /** The job left its worker (settled, or dropped after it settled). */
  release(job: Job): void {
    this.#returned(job);
    job.leave();
  }

  /** A job taken from the backlog comes back (it leaves, or waits again): its tenant's count drops. */
  #returned(job: Job): void {
    if (!job.taken) return;
    const free = this.#jobSlots.get(job);
    if (free !== undefined) {
      this.#jobSlots.delete(job);
      free();
      this.#syncSlots();
    }
    this.#backlog.returned(job);
    this.#pipeline.schedule();
  }

  /**
   * Called by the backlog when a slot is free: hand the job to an idle worker
   * (by its affinity, fleet.pickIdle), which holds the slot until it stops
   * being busy and calls `release`.
   */
  #take(job: Job, release: () => void): void {
    if (this.#limit > 1) return this.#share(job, release);
    const worker = this.#fleet.pickIdle(job.options.affinity);
    if (worker === undefined) {
      // Slots follow the workers, so this should not happen; never lose the job if it does.
      debug('no idle worker for job %d; re-queued', job.id);
      this.#untaken(job, release);
      return;
    }
    this.#slots.set(worker, release);
    this.#handTo(worker, job);
  }

  /** With several tasks per worker: hand `job` to a worker with room; the job holds its slot. */
  #share(job: Job, release: () => void): void {
    const worker = this.#fleet.pickRoom(this.#limit, job.options.affinity);
    if (worker === undefined) {
      // The room shrank since the slots were counted (a worker marked to retire): recount.
      this.#untaken(job, release);
      this.#syncSlots();
      return;
    }
    this.#jobSlots.set(job, release);
    this.#handTo(worker, job);
  }

  /** No worker could take `job` on its slot: it waits again, and the slot is freed on the next microtask. */
  #untaken(job: Job, release: () => void): void {
    this.#backlog.returned(job);
    this.#backlog.wait(job);
    queueMicrotask(release);
  }

  /** Hand `job` to the idle `worker` (or, with several tasks per worker, one with room): it runs now, or once the worker confirms. */
  #handTo(worker: Worker, job: Job): void {
    const now = performance.now();
    const mode = handOff({
      needsImport: needsImport(job, worker),
      idleForMs: now - worker.idleSince,
    });
    job.handTo(worker);
    if (worker.state === 'idle') worker.assign(job);
    else worker.join(job);
    if (mode === 'load') this.#loading.add(job);
    this.#send(worker, [job], mode !== 'run');
    if (job.worker !== worker) return; // not sent: put back, or failed
    job.launch(now);
    this.#stats.launched += job.size;
    this.#stats.noteBusy(this.#fleet.counts.busy);
    this.#stats.queueWait.add(now - job.submittedAt);
    if (mode === 'load') {
      // The import does not count: until the worker has the module, only startTimeout runs.
      this.#deadlines.load(job, this.#settings.startTimeout);
    } else if (mode === 'ack') {
      // The deadline counts from the hand-off; the future runs once the worker confirms.
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
    if (this.#limit > 1) worker.finishOne(job, false);
    else if (!worker.unqueue(job)) worker.finishTask({ counted: false });
    if (!worker.connected) {
      if (worker.state === 'idle') worker.lost();
      this.#returned(job);
      job.backToWaiting();
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
   * The worker sent the result of its running task: the worker moves on (to
   * the task it named as started next, to the first still on its way, or to
   * idle), its fate is decided, and the job that ended is returned for the
   * engine to settle. Undefined for a late result (the job was settled).
   */
  taskEnded(worker: Worker, message: WorkerMessage & { t: 'ok' | 'err' }): Job | undefined {
    if (this.#limit > 1) return this.#sharedEnded(worker, message);
    if (worker.state === 'dying') return this.#endedBeforeKill(worker, message);
    const job = worker.job;
    if (!job || job.id !== message.id || worker.state !== 'busy') return undefined;
    this.#pipeline.noteRunTime(message.ms);
    worker.finishTask({ next: message.next, held: message.held === true });
    // The worker's fate is decided before the future settles.
    const rss = message.rss ?? 0;
    const head = worker.job;
    if (head === undefined) {
      // Tasks it held (it reached maxWorkerMemoryBytes) come back first.
      this.reclaim(worker);
      this.#fleet.afterTask(worker, rss, this.unassigned);
      return job;
    }
    // It runs the next task already; when the worker named it as started, it begins.
    head.promote();
    if (message.next !== undefined) this.#begin(head, worker);
    this.#wake();
    this.#pipeline.schedule();
    // If it should go, it goes after that one, and what still waits inside it goes back.
    const why = this.#fleet.retireReason(worker, rss, this.unassigned + worker.queued.length);
    if (why !== undefined) this.#fleet.drainAndRetire(worker, why);
    return job;
  }

  /**
   * A result the worker wrote before the pool killed it, read after the
   * kill: the task it names as `next` had started. The result of a task
   * that had started so is kept (returned to be settled); that of the task
   * the worker was killed for is not (it was settled).
   */
  #endedBeforeKill(worker: Worker, message: WorkerMessage & { t: 'ok' | 'err' }): Job | undefined {
    const job = worker.job;
    const ended = job?.id === message.id ? job : undefined;
    if (ended) worker.endedBeforeKill(ended);
    const next = worker.queued.find((j) => j.id === message.next);
    if (next) this.#startedBeforeKill(worker, next);
    return ended;
  }

  /** `job`, waiting inside `worker`, had started there before the pool killed it: it runs, and dies with it. */
  #startedBeforeKill(worker: Worker, job: Job): void {
    if (!worker.startedBeforeKill(job)) return;
    // No clock: the worker is dead, and its exit ends the task.
    this.#begin(job, worker, false);
    this.#wake(); // it no longer waits
  }

  /**
   * With several tasks per worker: one of them ended; the worker is idle when
   * it was the last. Memory (maxWorkerMemoryBytes) is checked only then;
   * `maxTasksPerChild` and the rest after every task, a worker that should go
   * taking no more.
   */
  #sharedEnded(worker: Worker, message: WorkerMessage & { t: 'ok' | 'err' }): Job | undefined {
    const job = worker.running(message.id);
    if (!job || worker.state !== 'busy') return undefined;
    worker.finishOne(job);
    if ((worker.state as WorkerState) === 'idle') {
      this.#fleet.afterTask(worker, message.rss ?? 0, this.unassigned);
      return job;
    }
    const why = this.#fleet.retireReason(worker, 0, this.unassigned);
    if (why !== undefined) this.#fleet.drainAndRetire(worker, why);
    this.#syncSlots();
    return job;
  }

  /** The worker says it has the task (its module loaded, or a queued task started): it runs from now. */
  onStarted(worker: Worker, id: number): void {
    if (this.#limit > 1) {
      const job = worker.running(id);
      if (job && !job.acked) this.#confirmed(job, worker);
      return;
    }
    if (worker.state === 'dying') {
      // Read after the pool killed it: that task had started.
      const job = worker.queued.find((j) => j.id === id);
      if (job) this.#startedBeforeKill(worker, job);
      return;
    }
    const head = worker.job;
    if (head?.pipelined && !head.acked && head.id !== id) {
      // It started another of the tasks on their way to it first: that one runs, the head waits on.
      const other = worker.queued.find((j) => j.id === id);
      if (other) {
        worker.startedInstead(other);
        head.demote();
        other.promote();
      }
    }
    const job = worker.job;
    if (!job || job.id !== id || job.acked) return;
    this.#confirmed(job, worker);
  }

  /** `job`, handed to `worker`, started there. */
  #confirmed(job: Job, worker: Worker): void {
    const spec = job.spec;
    if (job.pipelined) {
      this.#begin(job, worker);
    } else if (
      spec.kind === 'module' &&
      (this.#loading.delete(job) || !worker.loaded.has(spec.module))
    ) {
      worker.loaded.add(spec.module);
      this.#begin(job, worker);
    } else {
      // Its clock started at the hand-off; only the future learns it runs.
      job.confirm(performance.now());
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
   * its timeout bounds how long the worker may spend on it. `timed`: false
   * for a task whose worker is dead already (its clocks stop instead).
   */
  #begin(job: Job, worker: Worker, timed = true): void {
    const now = performance.now();
    if (job.confirm(now)) {
      this.#stats.launched += job.size;
      this.#stats.pipelined += job.size;
      this.#stats.queueWait.add(now - job.submittedAt);
    }
    if (timed) this.#deadlines.start(job);
    else this.#deadlines.clear(job);
    if (job.future.done()) return;
    traceRun(job, worker.pid);
    startFuture(job.future, worker.pid);
  }

  /** The worker handed these back: each leaves (its future settled) or waits again. */
  onDropped(worker: Worker, ids: readonly number[]): void {
    for (const id of ids) {
      const job = worker.queued.find((j) => j.id === id);
      if (job && worker.unqueue(job)) {
        this.#putBack(job);
        continue;
      }
      // The drop was asked while the task waited inside; meanwhile the result
      // before it came naming no next, so the task became the head, to start
      // on arrival. The worker gave it back unstarted (it starts nothing while
      // a result is still being written): it never ran, and the worker moves on.
      // A worker marked to retire after its task retires now that it is idle,
      // before the task goes back (it would take it).
      const head = worker.job;
      if (head?.id === id && !head.acked && worker.state === 'busy') {
        worker.finishTask({ counted: false });
        const why = worker.retireAfterTask;
        if ((worker.state as WorkerState) === 'idle' && why !== undefined) {
          this.#fleet.retire(worker, why);
        }
        this.#putBack(head);
      }
    }
    this.#wake();
  }

  /** Its worker exited: the tasks that waited inside it and never started go back, in their order. */
  putBackQueued(worker: Worker): void {
    for (const job of worker.takeQueued()) this.#putBack(job);
    this.#wake();
  }

  #putBack(job: Job): void {
    this.#returned(job);
    job.backToWaiting();
    if (job.future.done()) this.#hooks.dropped(job);
    else this.#backlog.add(job);
  }

  /**
   * Its worker died before it confirmed the task: the task never ran, so it
   * waits for another worker. Once only: a task whose module kills its worker
   * fails the next time. Returns false when it had been put back before.
   */
  requeue(job: Job): boolean {
    if (!job.markRequeued()) return false;
    this.#deadlines.clear(job);
    const { queueTimeout } = job.options;
    if (queueTimeout !== undefined) {
      this.#deadlines.queue(job, queueTimeout - (performance.now() - job.submittedAt));
    }
    this.#returned(job);
    if (job.backToWaiting()) this.#stats.launched -= job.size;
    debug('task %s goes back to the backlog: its worker died before starting it', label(job));
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
