/**
 * Counters and timing percentiles. Updated by the engine before a future
 * settles, so a read right after `await future` already counts that task.
 */

import type { ExitReason } from './events.js';

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface DeadpoolStatistics {
  /** Tasks accepted by `submit` (and `map`). */
  tasksReceived: number;
  /** Tasks handed to a worker. */
  tasksLaunched: number;
  /** Tasks that settled with an error other than CancelledError. */
  tasksFailed: number;
  /** Worker processes ever spawned. */
  workerProcessesCreated: number;
  /** High-water mark of workers busy at once. */
  maxWorkersBusyConcurrently: number;
  /**
   * Worker processes alive now: starting + idle + busy + retiring. A worker
   * the pool has SIGKILLed no longer counts.
   */
  workerProcessesStillAlive: number;
  /** Alive and idle now. */
  workerProcessesIdle: number;
  /** Alive and running a task now. */
  workerProcessesBusy: number;
  /** Tasks running now (started on a worker, not yet settled or ended). */
  tasksRunning: number;
  /** Alive and not yet ready (booting, running the initializer). */
  workerProcessesStarting: number;
  /** Alive and on its way out gracefully (running the finalizer). */
  workerProcessesRetiring: number;
  /** Tasks that finished with a result. */
  tasksCompleted: number;
  /** Tasks that settled with CancelledError. */
  tasksCancelled: number;
  /** Tasks that waited inside a busy worker (pipelining) before they started. */
  tasksPipelined: number;
  /** Tasks killed for passing their timeout. */
  tasksTimedOut: number;
  /** Tasks waiting now: in the backlog, or queued inside a busy worker. */
  backlogSize: number;
  /** The part of `backlogSize` queued inside busy workers (pipelining). */
  tasksWaitingInWorkers: number;
  /** Workers that exited, by reason. */
  workerExits: Record<ExitReason, number>;
  /** Milliseconds from submit to start on a worker, over the last 1,024 tasks. */
  queueWaitMs: Percentiles;
  /** Milliseconds from start on a worker to settling, over the last 1,024 tasks. */
  runTimeMs: Percentiles;
}

const WINDOW = 1024;

/** A fixed ring of recent samples; percentiles computed on read. */
class Samples {
  readonly #values = new Float64Array(WINDOW);
  #count = 0;

  add(value: number): void {
    this.#values[this.#count % WINDOW] = value;
    this.#count++;
  }

  percentiles(): Percentiles {
    const n = Math.min(this.#count, WINDOW);
    if (n === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
    const sorted = this.#values.slice(0, n).sort();
    const at = (q: number): number => sorted[Math.min(n - 1, Math.floor(q * n))]!;
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1]! };
  }
}

export class Stats {
  received = 0;
  launched = 0;
  failed = 0;
  completed = 0;
  cancelled = 0;
  timedOut = 0;
  pipelined = 0;
  created = 0;
  maxBusy = 0;
  readonly exits: Record<ExitReason, number> = {
    idle: 0,
    maxTasks: 0,
    memory: 0,
    memoryLimit: 0,
    timeout: 0,
    killed: 0,
    crashed: 0,
    recycle: 0,
    shutdown: 0,
    startFailed: 0,
  };
  readonly queueWait = new Samples();
  readonly runTime = new Samples();

  /** Record how many workers are busy now, for the high-water mark. */
  noteBusy(busy: number): void {
    if (busy > this.maxBusy) this.maxBusy = busy;
  }

  snapshot(
    workers: { starting: number; idle: number; busy: number; retiring: number },
    backlog: number,
    inWorkers = 0,
    running = workers.busy,
  ): DeadpoolStatistics {
    const { starting, idle, busy, retiring } = workers;
    return {
      tasksReceived: this.received,
      tasksLaunched: this.launched,
      tasksFailed: this.failed,
      workerProcessesCreated: this.created,
      maxWorkersBusyConcurrently: this.maxBusy,
      workerProcessesStillAlive: starting + idle + busy + retiring,
      workerProcessesIdle: idle,
      workerProcessesBusy: busy,
      tasksRunning: running,
      workerProcessesStarting: starting,
      workerProcessesRetiring: retiring,
      tasksCompleted: this.completed,
      tasksCancelled: this.cancelled,
      tasksTimedOut: this.timedOut,
      tasksPipelined: this.pipelined,
      backlogSize: backlog,
      tasksWaitingInWorkers: inWorkers,
      workerExits: { ...this.exits },
      queueWaitMs: this.queueWait.percentiles(),
      runTimeMs: this.runTime.percentiles(),
    };
  }
}
