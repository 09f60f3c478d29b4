/**
 * The set of worker processes: how many to keep, spawning with back-off when
 * starts fail, the idle stack, graceful retirement, idle scale-down, and what
 * each exit means. What runs on the workers is the engine's business.
 */
import { debug } from './debug.js';
import { WorkerStartError } from './errors.js';
import type { Settings } from './options.js';
import type { WorkerMessage } from './protocol.js';
import type { ExitReason, Stats } from './stats.js';
import { WorkerProcess } from './worker.js';

export const MAX_START_FAILURES = 5;
const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 5_000;

export interface FleetHooks<J> {
  message(worker: WorkerProcess<J>, message: WorkerMessage): void;
  /** After the fleet's own bookkeeping of an exit. */
  exit(
    worker: WorkerProcess<J>,
    exitCode: number | null,
    signal: NodeJS.Signals | null,
    reason: ExitReason,
  ): void;
  disconnect(worker: WorkerProcess<J>): void;
  /** Tasks running or waiting: how many workers the work could use. */
  demand(): number;
  /** Tasks waiting for a worker. */
  waiting(): number;
  closing(): boolean;
  /** Starts failed MAX_START_FAILURES times in a row (and again at each further failure). */
  failing(failure: WorkerStartError): void;
  started(info: { pid: number }): void;
  /** Idle workers were retired: fewer can take work. */
  shrunk(): void;
}

export class Fleet<J> {
  readonly workers = new Set<WorkerProcess<J>>();
  /** Idle workers, most recently used last (so the others can idle out). */
  readonly idle: WorkerProcess<J>[] = [];
  generation = 0;
  startFailures = 0;
  lastStartError: Error | undefined;
  readonly #settings: Settings;
  readonly #stats: Stats;
  readonly #hooks: FleetHooks<J>;
  #spawnTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(settings: Settings, stats: Stats, hooks: FleetHooks<J>) {
    this.#settings = settings;
    this.#stats = stats;
    this.#hooks = hooks;
  }

  /** Workers alive and not on their way out. */
  aliveCount(): number {
    let n = 0;
    for (const w of this.workers) {
      if (w.state !== 'retiring' && w.state !== 'dying' && !w.retireAfterTask) n++;
    }
    return n;
  }

  /** Workers wanted now: enough for the work, within the bounds. */
  #wanted(): number {
    const demand = this.#hooks.demand();
    const { minWorkers, maxWorkers } = this.#settings;
    return this.#hooks.closing()
      ? Math.min(demand, maxWorkers)
      : Math.min(Math.max(demand, minWorkers), maxWorkers);
  }

  /** Start the workers that are missing; one at a time, after a back-off, while starts fail. */
  replenish(): void {
    if (this.#spawnTimer !== undefined) return; // a start is already scheduled
    let missing = this.#wanted() - this.aliveCount();
    if (missing <= 0) return;
    if (this.startFailures > 0) {
      const delay = Math.min(BACKOFF_BASE_MS * 2 ** (this.startFailures - 1), BACKOFF_CAP_MS);
      this.#spawnTimer = setTimeout(() => {
        this.#spawnTimer = undefined;
        const starting = [...this.workers].some((w) => w.state === 'starting');
        if (this.#wanted() > this.aliveCount() && !starting) this.spawn();
      }, delay);
      this.#spawnTimer.unref();
      return;
    }
    while (missing-- > 0) this.spawn();
  }

  spawn(): void {
    const settings = this.#settings;
    let worker: WorkerProcess<J>;
    try {
      worker = new WorkerProcess<J>(settings, this.generation, {
        message: (w, m) => this.#hooks.message(w, m),
        exit: (w, code, signal) => this.#onExit(w, code, signal),
        disconnect: (w) => this.#hooks.disconnect(w),
      });
    } catch (error) {
      this.#startFailed(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.workers.add(worker);
    this.#stats.created++;
    debug('worker %d spawned (generation %d)', worker.pid, worker.generation);
    // Deferred: listeners attached right after `new Deadpool()` must see the first workers.
    if (worker.pid > 0) process.nextTick(() => this.#hooks.started({ pid: worker.pid }));
    try {
      worker.send({ t: 'init', spec: settings.initializer, args: settings.initargs });
    } catch {
      // the exit handler reports it
    }
    worker.deadline(settings.startTimeout, () => {
      worker.startError = new Error(
        `worker ${worker.pid} did not start within ${settings.startTimeout} ms`,
      );
      worker.kill('startFailed');
    });
  }

  /** A worker reported 'ready': it takes work, unless it is no longer wanted. */
  onReady(worker: WorkerProcess<J>): void {
    worker.clearDeadline();
    worker.everReady = true;
    this.startFailures = 0;
    if (this.#hooks.closing() && this.#hooks.waiting() === 0) this.retire(worker, 'shutdown');
    else if (worker.generation !== this.generation) this.retire(worker, 'recycle');
    else this.becomeIdle(worker);
  }

  becomeIdle(worker: WorkerProcess<J>): void {
    worker.state = 'idle';
    worker.idleSince = performance.now();
    this.idle.push(worker);
    this.#scheduleIdleSweep();
  }

  removeIdle(worker: WorkerProcess<J>): void {
    const i = this.idle.indexOf(worker);
    if (i !== -1) this.idle.splice(i, 1);
  }

  /** Ask a worker to run its finalizer and exit. */
  retire(worker: WorkerProcess<J>, reason: ExitReason): void {
    this.removeIdle(worker);
    const { finalizer, finalargs } = this.#settings;
    worker.retire(reason, { t: 'finalize', spec: finalizer, args: finalargs });
  }

  /** Why a worker left: the pool's decision, else a failed start or a crash. */
  #onExit(worker: WorkerProcess<J>, exitCode: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(worker);
    this.removeIdle(worker);
    // A worker that never got ready failed to start, unless something outside killed it.
    const reason: ExitReason =
      worker.exitReason ??
      (!worker.everReady && (signal === null || worker.startError) ? 'startFailed' : 'crashed');
    if (reason === 'startFailed') {
      this.#startFailed(
        worker.startError ??
          new Error(`worker ${worker.pid} exited with code ${exitCode} before it was ready`),
      );
    }
    this.#stats.exits[reason]++;
    debug('worker %d exited: code %s, signal %s, reason %s', worker.pid, exitCode, signal, reason);
    this.#hooks.exit(worker, exitCode, signal, reason);
  }

  #startFailed(error: Error): void {
    this.startFailures++;
    this.lastStartError = error;
    debug('worker start failed (%d in a row): %s', this.startFailures, error.message);
    if (this.startFailures < MAX_START_FAILURES) return;
    this.#hooks.failing(
      new WorkerStartError(
        `workers failed to start ${this.startFailures} times in a row; last failure: ${error.message}`,
        { cause: error },
      ),
    );
  }

  /** New bounds: idle workers above the maximum retire now, busy ones after their task. */
  setBounds(minWorkers: number, maxWorkers: number): void {
    this.#settings.minWorkers = minWorkers;
    this.#settings.maxWorkers = maxWorkers;
    let excess = this.aliveCount() - maxWorkers;
    for (const worker of [...this.idle]) {
      if (excess <= 0) break;
      this.retire(worker, 'idle');
      excess--;
    }
    for (const worker of this.workers) {
      if (excess <= 0) break;
      if (worker.state === 'busy' && !worker.retireAfterTask) {
        worker.retireAfterTask = 'idle';
        excess--;
      }
    }
    this.#scheduleIdleSweep();
  }

  /** Retire every current worker (idle ones now) and start as many fresh ones; returns the old ones. */
  recycle(): WorkerProcess<J>[] {
    const old = [...this.workers];
    this.generation++;
    for (const worker of old) {
      if (worker.state === 'idle') this.retire(worker, 'recycle');
      else if (worker.state === 'busy') worker.retireAfterTask ??= 'recycle';
    }
    const { minWorkers, maxWorkers } = this.#settings;
    const target = Math.max(minWorkers, Math.min(old.length, maxWorkers));
    for (let missing = target - this.aliveCount(); missing > 0; missing--) this.spawn();
    return old;
  }

  #scheduleIdleSweep(delay = this.#settings.idleTimeout): void {
    if (this.#idleTimer !== undefined || this.#hooks.closing()) return;
    if (this.workers.size <= this.#settings.minWorkers) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      this.#sweepIdle();
    }, delay);
    this.#idleTimer.unref();
  }

  /** Retire workers idle for `idleTimeout`, oldest first, down to `minWorkers`. */
  #sweepIdle(): void {
    const now = performance.now();
    const { idleTimeout, minWorkers } = this.#settings;
    const expired = this.idle.filter((w) => now - w.idleSince >= idleTimeout - 1);
    expired.sort((a, b) => a.idleSince - b.idleSince);
    for (const worker of expired) {
      if (this.aliveCount() <= minWorkers) break;
      this.retire(worker, 'idle');
    }
    this.#hooks.shrunk();
    if (this.idle.length > 0 && this.aliveCount() > minWorkers) {
      const oldest = Math.min(...this.idle.map((w) => w.idleSince));
      this.#scheduleIdleSweep(Math.max(1, oldest + idleTimeout - now));
    }
  }

  /** No more idle scale-down (shutdown began). */
  stopIdleSweep(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  /** Drop every timer (shutdown is done). */
  stopTimers(): void {
    this.stopIdleSweep();
    if (this.#spawnTimer) clearTimeout(this.#spawnTimer);
    this.#spawnTimer = undefined;
  }
}
