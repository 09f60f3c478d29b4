/**
 * The set of worker processes: how many to keep (the bounds are owned here),
 * spawning with back-off when starts fail, the idle stack, graceful
 * retirement, idle scale-down, and what each exit means. It counts workers by
 * state, updated by every transition a worker makes.
 *
 * It carries out decisions made by policy.ts, from facts it is given (demand,
 * tasks waiting) or holds itself. What runs on the workers is the engine's
 * and the dispatcher's business; it never touches a job.
 */
import { WorkerStartError } from '../shared/errors.js';
import type { TaskSpec, WorkerMessage } from '../shared/protocol.js';
import { debug } from './debug.js';
import type { ExitReason } from './events.js';
import type { Bounds, Settings } from './options.js';
import {
  MAX_START_FAILURES,
  expiredIdle,
  retireAfterTask,
  retireWhenReady,
  spawnPlan,
  windDown,
  workersWanted,
} from './policy.js';
import type { Stats } from './stats.js';
import { forkWorker, Worker, type Spawn, type WorkerState } from './worker.js';

export interface FleetHooks {
  message(worker: Worker, message: WorkerMessage): void;
  /** After the fleet's own bookkeeping of the change. */
  transition(worker: Worker, from: WorkerState, to: WorkerState): void;
  /** After the fleet's own bookkeeping of an exit. */
  exit(
    worker: Worker,
    exitCode: number | null,
    signal: NodeJS.Signals | null,
    reason: ExitReason,
  ): void;
  /** Starts failed MAX_START_FAILURES times in a row (and again at each further failure). */
  failing(failure: WorkerStartError): void;
  started(info: { pid: number }): void;
  /** A busy worker will retire after its task: what waits inside it should go back. */
  draining(worker: Worker): void;
}

export type StateCounts = Record<WorkerState, number>;

/** How many task modules a pool offers its idle workers to import ahead. */
const MAX_WARM_MODULES = 8;

export class Fleet {
  readonly #workers = new Set<Worker>();
  /** Idle workers, most recently used last (so the others can idle out). */
  readonly #idle: Worker[] = [];
  readonly #counts: StateCounts = {
    starting: 0,
    idle: 0,
    busy: 0,
    retiring: 0,
    dying: 0,
    exited: 0,
  };
  readonly #settings: Settings;
  readonly #stats: Stats;
  readonly #hooks: FleetHooks;
  readonly #spawn: Spawn;
  #bounds: Bounds;
  #generation = 0;
  #startFailures = 0;
  #lastStartError: Error | undefined;
  #closing = false;
  /** Closing without waiting and without keeping futures: idle workers are killed, not retired. */
  #hurry = false;
  /** Tasks waiting inside workers (sent, not started), over all workers. */
  #queued = 0;
  /** Tasks running or waiting, as last told by `replenish`. */
  #demand = 0;
  #spawnTimer: NodeJS.Timeout | undefined;
  /** Missing workers wait for the cgroup moves in flight to start (#spawnAfterMoves). */
  #waitingForMoves = false;
  #idleTimer: NodeJS.Timeout | undefined;
  /**
   * The modules of the first tasks to return a result, in that order: idle
   * workers are offered those they were not sent, to import ahead (src/child/warm.ts).
   */
  readonly #taskModules: string[] = [];
  /** An offer to the idle workers is due (new modules came). */
  #offerDue = false;
  /** An idle worker died after such an offer: no more offers (a module may kill its importer). */
  #warmOff = false;

  constructor(settings: Settings, stats: Stats, hooks: FleetHooks, spawn: Spawn = forkWorker) {
    this.#settings = settings;
    this.#bounds = { minWorkers: settings.minWorkers, maxWorkers: settings.maxWorkers };
    this.#stats = stats;
    this.#hooks = hooks;
    this.#spawn = spawn;
    // No sentinel any more: every live worker guards itself from now on.
    settings.containment.onSentinelLost(() => {
      for (const worker of this.#workers) {
        if (!worker.connected) continue;
        try {
          worker.send({ t: 'watchdog' });
        } catch {
          // it is exiting
        }
      }
    });
  }

  get bounds(): Bounds {
    return this.#bounds;
  }

  /** Workers in each state now (`exited` counts every exit ever). */
  get counts(): Readonly<StateCounts> {
    return this.#counts;
  }

  /** Tasks waiting inside workers (sent to them, not started). */
  get queuedTasks(): number {
    return this.#queued;
  }

  /** Every worker not yet seen to exit. */
  get size(): number {
    return this.#workers.size;
  }

  get startFailures(): number {
    return this.#startFailures;
  }

  get lastStartError(): Error | undefined {
    return this.#lastStartError;
  }

  /** Workers alive and not on their way out. */
  staying(): number {
    let n = 0;
    for (const w of this.#workers) if (w.staying) n++;
    return n;
  }

  /** Started since the last `recycle()`. */
  current(worker: Worker): boolean {
    return worker.generation === this.#generation;
  }

  /** Workers running a task now. */
  busyWorkers(): Worker[] {
    return [...this.#workers].filter((w) => w.state === 'busy');
  }

  /**
   * Workers with tasks waiting inside them: busy ones, retiring ones not yet
   * done handing theirs back, and those the pool killed, until their exit.
   */
  holding(): Worker[] {
    return [...this.#workers].filter((w) => w.queued.length > 0);
  }

  /**
   * The idle worker for a task with `affinity`: the most recently idle one
   * that last ran that affinity; else one holding no affinity; else any
   * (most recently idle first). It stays idle until assigned.
   */
  pickIdle(affinity?: string): Worker | undefined {
    const idle = this.#idle;
    if (affinity !== undefined) {
      for (let i = idle.length - 1; i >= 0; i--) if (idle[i]!.affinity === affinity) return idle[i];
    }
    for (let i = idle.length - 1; i >= 0; i--) if (idle[i]!.affinity === undefined) return idle[i];
    return idle[idle.length - 1];
  }

  /**
   * How many more tasks `worker` may take at once, with `concurrentTasksPerWorker`
   * `limit` above 1: none unless it takes work and stays; never past `maxTasksPerChild`.
   */
  roomIn(worker: Worker, limit: number): number {
    const s = worker.state;
    if ((s !== 'idle' && s !== 'busy') || !worker.staying || !this.current(worker)) return 0;
    const running = worker.jobs.length;
    const left = this.#settings.maxTasksPerChild - worker.tasksRun - running;
    return Math.max(0, Math.min(limit - running, left));
  }

  /** The room over all workers (see `roomIn`). */
  room(limit: number): number {
    let n = 0;
    for (const worker of this.#workers) n += this.roomIn(worker, limit);
    return n;
  }

  /** Tasks running now over all workers. */
  get tasksRunning(): number {
    let n = 0;
    for (const worker of this.#workers) if (worker.state === 'busy') n += worker.jobs.length;
    return n;
  }

  /**
   * With `limit` tasks per worker: a worker with room, chosen as `pickIdle`
   * chooses (by affinity), the one with the most room first.
   */
  pickRoom(limit: number, affinity?: string): Worker | undefined {
    let best: Worker | undefined;
    let bestRank = -1;
    for (const worker of this.#workers) {
      const room = this.roomIn(worker, limit);
      if (room === 0) continue;
      const held = worker.affinity;
      const fit = affinity !== undefined && held === affinity ? 2 : held === undefined ? 1 : 0;
      const rank = fit * (limit + 1) + room;
      if (rank > bestRank) [best, bestRank] = [worker, rank];
    }
    return best;
  }

  /** Start the workers that are missing for `demand` tasks running or waiting. */
  replenish(demand = this.#demand): void {
    this.#demand = demand;
    // A start is already scheduled.
    if (this.#spawnTimer !== undefined || this.#waitingForMoves) return;
    const staying = this.staying();
    // A full fleet (the common case, checked on every submit) wants no start.
    if (staying >= this.#bounds.maxWorkers) return;
    const plan = spawnPlan({
      wanted: this.#wanted(),
      staying,
      startFailures: this.#startFailures,
    });
    if (plan.delay === 0) {
      if (this.#settings.containment.moving) this.#spawnAfterMoves();
      else this.start(plan.spawn);
      return;
    }
    this.#spawnTimer = setTimeout(() => {
      this.#spawnTimer = undefined;
      if (this.#wanted() > this.staying() && this.#counts.starting === 0) this.start(1);
    }, plan.delay);
    this.#spawnTimer.unref();
  }

  /**
   * Start the missing workers once no worker is being moved into its
   * cgroups: making a worker's cgroups now would wait for that move on the
   * event loop, 5–25 ms when the kernel waits for an RCU grace period
   * (docs/containment.md, "Moves and the event loop"). They start when they
   * would have anyway, and the pool's process goes on meanwhile: `n` of them
   * (at most up to `maxWorkers`), then what the demand then wants. A pool
   * closing meanwhile starts none of the `n`, only what its waiting tasks
   * need (replenish counts no floor then).
   */
  #spawnAfterMoves(n = 0): void {
    this.#waitingForMoves = true;
    void this.#settings.containment.whenNoMove().then(() => {
      this.#waitingForMoves = false;
      if (!this.#closing) this.start(Math.min(n, this.#bounds.maxWorkers - this.staying()));
      this.replenish();
    });
  }

  #wanted(): number {
    return workersWanted({ demand: this.#demand, ...this.#bounds, closing: this.#closing });
  }

  /**
   * Start `n` workers now, or, while a worker (of any pool in this process)
   * is being moved into its cgroups, once that move is done (#spawnAfterMoves).
   */
  start(n: number): void {
    if (n <= 0) return;
    if (this.#settings.containment.moving) this.#spawnAfterMoves(n);
    else for (let i = 0; i < n; i++) this.#startOne();
  }

  #startOne(): void {
    let worker: Worker;
    try {
      worker = new Worker(
        this.#settings,
        this.#generation,
        {
          message: (w, m) => this.#hooks.message(w, m),
          queued: (_w, delta) => (this.#queued += delta),
          transition: (w, from, to) => this.#onTransition(w, from, to),
          exit: (w, code, signal) => this.#onExit(w, code, signal),
        },
        this.#spawn,
      );
    } catch (error) {
      // It never existed (its cgroups could not be made, say): no exit will
      // come to try again, so the next start is planned here, with back-off.
      this.#startFailed(error instanceof Error ? error : new Error(String(error)));
      setImmediate(() => {
        if (!this.#closing) this.replenish();
      });
      return;
    }
    this.#workers.add(worker);
    this.#counts.starting++;
    this.#stats.created++;
    debug('worker %d spawned (generation %d)', worker.pid, worker.generation);
    // Deferred: listeners attached right after `new Deadpool()` must see the first workers.
    if (worker.pid > 0) process.nextTick(() => this.#hooks.started({ pid: worker.pid }));
    const { initializer, initargs, startTimeout } = this.#settings;
    worker.boot({ t: 'init', spec: initializer, args: initargs }, startTimeout);
  }

  /** A worker reported 'ready': it takes work, unless it is no longer wanted. */
  onReady(worker: Worker, waiting: number): void {
    this.#startFailures = 0;
    const why = retireWhenReady({
      closing: this.#closing,
      waiting,
      stale: worker.generation !== this.#generation,
    });
    if (why !== undefined) this.retire(worker, why);
    else worker.ready();
  }

  /**
   * A worker's task ended; decide whether it stays. Done before the task's
   * future settles, so statistics read after it know the worker's fate.
   */
  afterTask(worker: Worker, rss: number, waiting: number): void {
    const why = this.retireReason(worker, rss, waiting);
    if (why !== undefined) this.retire(worker, why);
  }

  /** Why a worker whose task just ended should go, if it should (policy.retireAfterTask). */
  retireReason(worker: Worker, rss: number, waiting: number): ExitReason | undefined {
    const s = this.#settings;
    return retireAfterTask({
      marked: worker.retireAfterTask,
      tasksRun: worker.tasksRun,
      maxTasksPerChild: s.maxTasksPerChild,
      rss,
      maxWorkerMemoryBytes: s.maxWorkerMemoryBytes,
      stale: worker.generation !== this.#generation,
      closing: this.#closing,
      waiting,
      staying: this.staying(),
      maxWorkers: this.#bounds.maxWorkers,
    });
  }

  /**
   * The one way a busy worker is marked to retire after its task: what waits
   * inside it goes back (the `draining` hook). A worker marked already is
   * left as it is.
   */
  drainAndRetire(worker: Worker, reason: ExitReason): void {
    if (worker.retireAfterTask !== undefined) return;
    worker.retireAfter(reason);
    this.#hooks.draining(worker);
  }

  /** Ask a worker to run its finalizer and exit. */
  retire(worker: Worker, reason: ExitReason): void {
    const { finalizer, finalargs } = this.#settings;
    worker.retire(reason, { t: 'finalize', spec: finalizer, args: finalargs });
  }

  /**
   * Shutting down: no more scale-down; idle workers and starting ones wind down once nothing waits.
   * `hurry` (wait: false, cancelFutures: true): idle workers are killed unless a finalizer must run.
   */
  close(waiting: number, hurry = false): void {
    this.#closing = true;
    this.#hurry = hurry && this.#settings.finalizer === undefined;
    this.#stopIdleSweep();
    this.windDown(waiting);
  }

  /** While closing with nothing waiting: retire the idle workers and kill those still starting. */
  windDown(waiting: number): void {
    for (const worker of [...this.#workers]) {
      const state = worker.state;
      if (state !== 'idle' && state !== 'starting') continue;
      const action = windDown({ state, closing: this.#closing, waiting, hurry: this.#hurry });
      if (action === 'retire') this.retire(worker, 'shutdown');
      else if (action === 'kill') worker.kill('shutdown');
    }
  }

  /** New bounds: idle workers above the maximum retire now, busy ones after their task. */
  setBounds(bounds: Bounds): void {
    this.#bounds = bounds;
    let excess = this.staying() - bounds.maxWorkers;
    for (const worker of [...this.#idle]) {
      if (excess <= 0) break;
      this.retire(worker, 'idle');
      excess--;
    }
    for (const worker of this.#workers) {
      if (excess <= 0) break;
      if (worker.state === 'busy' && !worker.retireAfterTask) {
        this.drainAndRetire(worker, 'idle');
        excess--;
      }
    }
    this.#scheduleIdleSweep();
    this.replenish();
  }

  /** Retire every current worker (idle ones now) and start as many fresh ones; returns the old ones. */
  recycle(): Worker[] {
    const old = [...this.#workers];
    this.#generation++;
    for (const worker of old) {
      if (worker.state === 'idle') this.retire(worker, 'recycle');
      else if (worker.state === 'busy') this.drainAndRetire(worker, 'recycle');
    }
    const { minWorkers, maxWorkers } = this.#bounds;
    const target = Math.max(minWorkers, Math.min(old.length, maxWorkers));
    this.start(target - this.staying());
    return old;
  }

  /** Drop every timer (shutdown is done). */
  stopTimers(): void {
    this.#stopIdleSweep();
    if (this.#spawnTimer) clearTimeout(this.#spawnTimer);
    this.#spawnTimer = undefined;
  }

  #onTransition(worker: Worker, from: WorkerState, to: WorkerState): void {
    if (debug.enabled) debug('worker %d: %s → %s', worker.pid, from, to);
    this.#counts[from]--;
    this.#counts[to]++;
    if (from === 'idle') removeFrom(this.#idle, worker);
    if (to === 'idle') {
      this.#idle.push(worker);
      this.#scheduleIdleSweep();
      if (!this.#warmOff) worker.warm(this.#taskModules);
    }
    this.#hooks.transition(worker, from, to);
  }

  /**
   * A task of `spec` returned its result. The modules of the first
   * MAX_WARM_MODULES such tasks are offered to the workers when idle
   * (a module that failed to load, or refused a nested pool, never is):
   * those idle now hear of it once the dispatch under way is done.
   */
  worked(spec: TaskSpec): void {
    if (spec.kind !== 'module' || this.#warmOff) return;
    const list = this.#taskModules;
    if (list.length >= MAX_WARM_MODULES || list.includes(spec.module)) return;
    list.push(spec.module);
    if (this.#offerDue) return;
    this.#offerDue = true;
    queueMicrotask(() => {
      this.#offerDue = false;
      if (this.#warmOff) return;
      for (const worker of this.#idle) worker.warm(list);
    });
  }

  /** Why a worker left: the pool's decision, else a failed start or a crash. */
  #onExit(worker: Worker, exitCode: number | null, signal: NodeJS.Signals | null): void {
    this.#workers.delete(worker);
    // A worker that never got ready failed to start, unless something outside
    // killed it (the pool's kill of an exit that stalled is not that).
    const code = worker.stalledExit ?? exitCode;
    const exitedItself = signal === null || worker.stalledExit !== undefined;
    const reason: ExitReason =
      worker.exitReason ??
      (!worker.everReady && (exitedItself || worker.startError) ? 'startFailed' : 'crashed');
    if (reason === 'startFailed') {
      this.#startFailed(
        worker.startError ?? new Error(beforeReady(worker.pid, code, worker.stderrTail)),
      );
    }
    if (reason === 'crashed' && worker.job === undefined && worker.warmedAhead && !this.#warmOff) {
      // Without a task to blame, the import ahead may have killed it: its
      // replacement would be offered the same modules, and die the same way.
      this.#warmOff = true;
      debug('worker %d died idle after an offer of task modules: no more offers', worker.pid);
    }
    this.#stats.exits[reason]++;
    debug('worker %d exited: code %s, signal %s, reason %s', worker.pid, exitCode, signal, reason);
    this.#hooks.exit(worker, exitCode, signal, reason);
  }

  #startFailed(error: Error): void {
    this.#startFailures++;
    this.#lastStartError = error;
    debug('worker start failed (%d in a row): %s', this.#startFailures, error.message);
    if (this.#startFailures < MAX_START_FAILURES) return;
    this.#hooks.failing(
      new WorkerStartError(
        `workers failed to start ${this.#startFailures} times in a row; last failure: ${error.message}`,
        { cause: error },
      ),
    );
  }

  #scheduleIdleSweep(delay = this.#settings.idleTimeout): void {
    if (this.#idleTimer !== undefined || this.#closing) return;
    if (this.#workers.size <= this.#bounds.minWorkers) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      this.#sweepIdle();
    }, delay);
    this.#idleTimer.unref();
  }

  /** Retire workers idle for `idleTimeout`, oldest first, down to `minWorkers`. */
  #sweepIdle(): void {
    const { retire, nextCheck } = expiredIdle({
      idle: this.#idle,
      now: performance.now(),
      idleTimeout: this.#settings.idleTimeout,
      staying: this.staying(),
      minWorkers: this.#bounds.minWorkers,
    });
    for (const worker of retire) this.retire(worker, 'idle');
    if (nextCheck !== undefined) this.#scheduleIdleSweep(nextCheck);
  }

  #stopIdleSweep(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }
}

/**
 * Why a worker that exited before it was ready failed: its exit code, and the
 * last error its stderr shows (an error thrown by a preload, say).
 */
function beforeReady(pid: number, exitCode: number | null, stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.trim());
  const error = lines.findLast((line) => /^[\w.]*Error\b[^:]*: /.test(line));
  const said = error === undefined ? '' : `; its stderr shows ${error.slice(0, 1_000)}`;
  return `worker ${pid} exited with code ${exitCode} before it was ready${said}`;
}

/**
 * Remove `item` from `list`, keeping the order. It runs on every task a
 * sequential caller submits: the last entry (the common case) is popped,
 * since splice allocates an array per call; no loop of our own, which
 * costs more than splice until the JIT has optimized it.
 */
function removeFrom<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i === list.length - 1) list.pop();
  else if (i !== -1) list.splice(i, 1);
}
