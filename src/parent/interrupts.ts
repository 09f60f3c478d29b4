/**
 * What ends a job early: cancel() and cancelAndKill(), an aborted signal
 * (killing, or cooperative), the hard, soft and queue deadlines, the memory
 * limit, and a stream whose consumer left. Each decides whether the task was
 * still waiting (it leaves the backlog, or is dropped from the worker it
 * waited in) or runs (its worker's tree is killed, or the task is told), and
 * ends the job through the engine's `settle`/`finish`. It arms no timer
 * (deadlines.ts) and keeps no state.
 */
import { CancelledError, MemoryLimitError, ProcessError, TimeoutError } from '../shared/errors.js';
import { toWire } from '../shared/protocol.js';
import type { Deadlines } from './deadlines.js';
import type { Dispatcher } from './dispatch.js';
import type { Emit, ExitReason } from './events.js';
import { cancelledBySignal, label, type Job } from './job.js';
import type { Settings } from './options.js';
import type { Stats } from './stats.js';
import type { Worker } from './worker.js';

export type Ending = 'completed' | 'failed' | 'cancelled';

/** The engine's two ways to end a job. */
export interface Ends {
  /** Settle the future only: the job may still hold its worker. */
  settle(job: Job, ending: Ending, value: unknown): void;
  /** Settle the future and give the worker back. */
  finish(job: Job, ending: Ending, value: unknown): void;
}

/** How long a streamed task may take to end after its consumer left, in ms. */
export const STOP_GRACE_MS = 1_000;

export function cancelled(job: Job, what: string): CancelledError {
  return new CancelledError(`task ${label(job)} ${what}`);
}

export class Interrupts {
  readonly #ends: Ends;
  readonly #dispatch: Dispatcher;
  readonly #deadlines: Deadlines;
  readonly #stats: Stats;
  readonly #settings: Settings;
  readonly #emit: Emit;

  constructor(deps: {
    ends: Ends;
    dispatch: Dispatcher;
    deadlines: Deadlines;
    stats: Stats;
    settings: Settings;
    emit: Emit;
  }) {
    this.#ends = deps.ends;
    this.#dispatch = deps.dispatch;
    this.#deadlines = deps.deadlines;
    this.#stats = deps.stats;
    this.#settings = deps.settings;
    this.#emit = deps.emit;
  }

  /**
   * The future's cancel() of a job not yet started: taken out of the backlog,
   * or, when `kill`, killed on the worker it was just handed to.
   */
  cancel(job: Job, kill: boolean): boolean {
    if (this.unwait(job, 'cancelled', cancelled(job, 'was cancelled before it started'))) {
      return true;
    }
    if (kill && job.worker) {
      this.kill(job, cancelled(job, 'was cancelled while starting'), 'killed');
      return true;
    }
    return false;
  }

  /**
   * The submit signal aborted: a waiting task is cancelled; a running one is
   * killed, or, with `abort: 'cooperative'`, cancelled at once and told
   * through its taskSignal(), its worker killed only at the hard timeout.
   */
  aborted(job: Job, signal: AbortSignal): void {
    const error = cancelledBySignal(job, signal);
    if (this.unwait(job, 'cancelled', error)) return;
    if (!job.worker) return;
    if (job.options.abort === 'kill') {
      this.kill(job, error, 'killed');
    } else {
      this.#ends.settle(job, 'cancelled', error);
      this.abortTask(job, signal.reason);
    }
  }

  /** Abort the running task's taskSignal(): its soft timeout, or a cooperative abort with `reason`. */
  abortTask(job: Job, ...reason: [unknown?]): void {
    const worker = job.worker;
    if (!worker || !worker.runs(job)) return;
    if (reason.length === 0) {
      this.#emit('taskTimeout', { pid: worker.pid, name: job.options.name, soft: true });
    }
    try {
      worker.send({
        t: 'abort',
        id: job.id,
        ...(reason.length ? { reason: toWire(reason[0]) } : {}),
      });
    } catch {
      // the worker is going away; its exit ends the job
    }
  }

  timedOut(job: Job, why: string): void {
    const worker = job.worker;
    if (!worker || !worker.runs(job)) return;
    const error = new TimeoutError(
      `task ${label(job)} ${why}; worker ${worker.pid} was killed with its process tree`,
      { phase: 'run' },
    );
    if (!job.future.done()) this.#stats.timedOut++;
    this.kill(job, error, 'timeout');
    this.#emit('taskTimeout', { pid: worker.pid, name: job.options.name, soft: false });
  }

  /** Not handed to a worker within its queueTimeout: it leaves the backlog, no worker harmed. */
  queueTimedOut(job: Job): void {
    const ms = job.options.queueTimeout;
    const error = new TimeoutError(
      `task ${label(job)} timed out after waiting ${ms} ms for a worker (queueTimeout); it never ran`,
      { phase: 'queue' },
    );
    if (this.unwait(job, 'failed', error)) this.#stats.timedOut++;
  }

  /**
   * End a task that is still waiting: in the backlog, or queued inside a busy
   * worker (asked to drop it; if it has just started, it runs to its end and
   * its result is dropped). False if it is not waiting.
   */
  unwait(job: Job, ending: Ending, error: Error): boolean {
    if (job.future.done()) return false;
    if (this.#dispatch.remove(job)) {
      this.#ends.finish(job, ending, error);
      return true;
    }
    const worker = job.worker;
    if (!worker || worker.runs(job) || !worker.queued.includes(job)) return false;
    this.#ends.settle(job, ending, error);
    this.#dispatch.drop(worker, [job]);
    return true;
  }

  memoryKill(worker: Worker, rss: number, kernel = false): void {
    const job = worker.job;
    if (!job || worker.state !== 'busy') return;
    this.kill(job, this.memoryError(job, worker, rss, kernel), 'memoryLimit', (other) =>
      this.memoryError(other, worker, rss, kernel),
    );
  }

  /**
   * The error of a task whose tree reached `memoryLimitBytes`: sampled at
   * `rss` bytes, or (`kernel`) stopped at the cap by the kernel's OOM killer.
   */
  memoryError(job: Job, worker: Worker, rss: number, kernel = false): MemoryLimitError {
    const limit = this.#settings.memoryLimitBytes;
    const what = kernel
      ? `the kernel stopped its worker's process tree at the cap (peak ${rss} bytes) and OOM-killed in it; worker ${worker.pid} and everything it started were killed`
      : `its worker's process tree used ${rss} bytes; worker ${worker.pid} was killed`;
    return new MemoryLimitError(
      `task ${label(job)} passed memoryLimitBytes (${limit} bytes): ${what}`,
      {
        pid: worker.pid,
        exitCode: null,
        signal: 'SIGKILL',
        taskName: job.options.name,
        // The kernel stops the tree at the cap (rounded down to a page): it reached the limit.
        rss: kernel ? Math.max(rss, limit) : rss,
      },
    );
  }

  /**
   * SIGKILL the tree of the worker running `job`, and end the job with
   * `error`. The tasks waiting inside the worker go back at its exit, once
   * its last messages are read: one may turn out to have started
   * (dispatch.ts, `#startedBeforeKill`), and fails at the exit (`startedWhenKilled`).
   */
  kill(job: Job, error: Error, reason: ExitReason, sibling?: (other: Job) => Error): void {
    const worker = job.worker;
    if (!worker || !worker.runs(job)) return;
    const failSibling = sibling ?? ((other: Job) => siblingError(other, job, worker));
    // The tasks running beside it (concurrentTasksPerWorker) die with it, confirmed started
    // or not: they fail, and never run again.
    const siblings = worker.jobs.filter((other) => other !== job);
    worker.kill(reason, job);
    this.#ends.finish(job, error instanceof CancelledError ? 'cancelled' : 'failed', error);
    for (const other of siblings) this.#ends.finish(other, 'failed', failSibling(other));
  }

  /** The consumer of a streamed task took `n` values: its worker may produce `n` more. */
  credit(job: Job, n: number): void {
    const worker = job.worker;
    if (!worker || !worker.runs(job)) return;
    try {
      worker.send({ t: 'credit', id: job.id, n });
    } catch {
      // the worker is going away; its exit ends the stream
    }
  }

  /**
   * The consumer of a streamed task left: a waiting task is cancelled; a
   * running one is asked to end its generator, and killed if it has not
   * ended within STOP_GRACE_MS.
   */
  stopStream(job: Job): void {
    if (job.future.done()) return;
    if (this.unwait(job, 'cancelled', cancelled(job, 'was cancelled: its stream was closed'))) {
      return;
    }
    const worker = job.worker;
    if (!worker || !worker.runs(job)) return;
    try {
      worker.send({ t: 'stop', id: job.id });
    } catch {
      return; // the worker is going away; its exit ends the task
    }
    this.#deadlines.stopping(job, STOP_GRACE_MS);
  }

  /** A closed stream's task did not end in time: its worker's tree is killed. */
  stopExpired(job: Job): void {
    const what = `did not end within ${STOP_GRACE_MS} ms after its stream was closed; its worker was killed`;
    this.kill(job, cancelled(job, what), 'killed');
  }
}

/** A task that ran beside `killed` on `worker` (concurrentTasksPerWorker) and died with it. */
export function siblingError(job: Job, killed: Job, worker: Worker): ProcessError {
  return new ProcessError(
    `task ${label(job)} was running on worker ${worker.pid} beside task ${label(killed)}, ` +
      `whose kill took the worker and its process tree`,
    {
      pid: worker.pid,
      exitCode: null,
      signal: 'SIGKILL',
      taskName: job.options.name,
      stderr: worker.stderrTail,
    },
  );
}

/**
 * A task that waited inside `worker` behind `killed` and, as the worker's last
 * messages (read after the kill) showed, had started there before the pool
 * killed the worker because of `killed`: it may have run in part, so it is
 * not run again.
 */
export function startedWhenKilled(
  job: Job,
  killed: Job,
  worker: Worker,
  exitCode: number | null,
  signal: NodeJS.Signals | null,
): ProcessError {
  return new ProcessError(
    `task ${label(job)} had started on worker ${worker.pid} when the pool killed the worker ` +
      `and its process tree because of task ${label(killed)}; it may have run in part, so it is not run again`,
    {
      pid: worker.pid,
      exitCode,
      signal,
      taskName: job.options.name,
      stderr: worker.stderrTail,
    },
  );
}
