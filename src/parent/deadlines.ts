/**
 * A job's clocks: its `queueTimeout` while it waits, the wait for its module
 * to load (`startTimeout`), its hard `timeout` and its `softTimeout`. The one
 * place that arms and clears them; it owns `job.timer` and `job.softTimer`.
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

export class Deadlines {
  readonly #hooks: DeadlineHooks;

  constructor(hooks: DeadlineHooks) {
    this.#hooks = hooks;
  }

  /** It waits for a worker: it may do so for `ms` (its queueTimeout, or what is left of it). */
  queue(job: Job, ms: number): void {
    this.clear(job);
    job.timer = setTimeout(() => this.#hooks.queue(job), Math.max(0, ms));
  }

  /** Until the worker has imported the task's module, only `ms` (startTimeout) runs. */
  load(job: Job, ms: number): void {
    this.clear(job);
    const why = `did not start: its module did not load within ${ms} ms`;
    job.timer = setTimeout(() => this.#hooks.expired(job, why), ms);
  }

  /** The task runs from now: arm its timeout and soft timeout (replacing a load deadline). */
  start(job: Job): void {
    this.clear(job);
    const { timeout, softTimeout } = job.options;
    if (timeout !== undefined) {
      job.timer = setTimeout(
        () => this.#hooks.expired(job, `timed out after ${timeout} ms`),
        timeout,
      );
    }
    if (softTimeout !== undefined) {
      job.softTimer = setTimeout(() => this.#hooks.soft(job), softTimeout);
    }
  }

  /** Its stream was closed: it must end within `ms`. (Its own deadlines keep running.) */
  stopping(job: Job, ms: number): void {
    if (job.stopTimer !== undefined) return;
    job.stopTimer = setTimeout(() => this.#hooks.stopped(job), ms);
  }

  clear(job: Job): void {
    if (job.timer !== undefined) clearTimeout(job.timer);
    if (job.softTimer !== undefined) clearTimeout(job.softTimer);
    if (job.stopTimer !== undefined) clearTimeout(job.stopTimer);
    job.timer = job.softTimer = job.stopTimer = undefined;
  }
}
