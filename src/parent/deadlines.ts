/**
 * A job's clocks: its `queueTimeout` while it waits, the wait for its module
 * to load (`startTimeout`), its hard `timeout` and its `softTimeout`. The one
 * place that arms and clears them, and the only one that holds them (a job
 * carries no timer).
 * What a passed deadline does (leave the backlog, kill the tree, abort the
 * task's signal) is the engine's.
 */
import type { Job } from './job.js';

export interface DeadlineHooks {
  /** A hard deadline passed; `why` completes "task N …". */
  expired(job: Job, why: string): void;
  /** The soft timeout passed. */
  soft(job: Job): void;
  /** It waited for a worker longer than its queueTimeout. */
  queue(job: Job): void;
  /** Its stream was closed and it has not ended since. */
  stopped(job: Job): void;
}

/** A job's armed timers: `hard` (queue, load or run deadline), `soft`, `stop`. */
interface Clocks {
  hard?: NodeJS.Timeout;
  soft?: NodeJS.Timeout;
  stop?: NodeJS.Timeout;
}

export class Deadlines {
  readonly #hooks: DeadlineHooks;
  readonly #clocks = new Map<Job, Clocks>();

  constructor(hooks: DeadlineHooks) {
    this.#hooks = hooks;
  }

  /** It waits for a worker: it may do so for `ms` (its queueTimeout, or what is left of it). */
  queue(job: Job, ms: number): void {
    this.clear(job);
    this.#arm(job).hard = setTimeout(() => this.#hooks.queue(job), Math.max(0, ms));
  }

  /** Until the worker has imported the task's module, only `ms` (startTimeout) runs. */
  load(job: Job, ms: number): void {
    this.clear(job);
    const why = `did not start: its module did not load within ${ms} ms`;
    this.#arm(job).hard = setTimeout(() => this.#hooks.expired(job, why), ms);
  }

  /** The task runs from now: arm its timeout and soft timeout (replacing a load deadline). */
  start(job: Job): void {
    this.clear(job);
    const { timeout, softTimeout } = job.options;
    if (timeout === undefined && softTimeout === undefined) return;
    const clocks = this.#arm(job);
    if (timeout !== undefined) {
      clocks.hard = setTimeout(
        () => this.#hooks.expired(job, `timed out after ${timeout} ms`),
        timeout,
      );
    }
    if (softTimeout !== undefined) {
      clocks.soft = setTimeout(() => this.#hooks.soft(job), softTimeout);
    }
  }

  /** Its stream was closed: it must end within `ms`. (Its own deadlines keep running.) */
  stopping(job: Job, ms: number): void {
    const clocks = this.#arm(job);
    if (clocks.stop !== undefined) return;
    clocks.stop = setTimeout(() => this.#hooks.stopped(job), ms);
  }

  /** Stop every clock of `job`. */
  clear(job: Job): void {
    const clocks = this.#clocks.get(job);
    if (clocks === undefined) return;
    this.#clocks.delete(job);
    if (clocks.hard !== undefined) clearTimeout(clocks.hard);
    if (clocks.soft !== undefined) clearTimeout(clocks.soft);
    if (clocks.stop !== undefined) clearTimeout(clocks.stop);
  }

  #arm(job: Job): Clocks {
    let clocks = this.#clocks.get(job);
    if (clocks === undefined) this.#clocks.set(job, (clocks = {}));
    return clocks;
  }
}
