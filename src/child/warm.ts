/**
 * Child side: import task modules ahead of the tasks that need them, while
 * this worker has nothing to do. The pool offers the modules whose tasks
 * returned on its other workers ('warm'); after 'ready' this worker also offers itself
 * `deadpool/task`, which every module made with defineTask() imports.
 *
 * An import starts IDLE_MS after the offer (or, if a task runs or waits
 * here then, IDLE_MS after the worker next becomes idle), and only while no
 * task runs or waits here: loading a module delays whatever arrives
 * meanwhile, so a worker kept busy imports nothing ahead. One
 * module at a time, each failure ignored: the task that needs the module
 * imports it again and fails with the same error (an ES module that threw
 * stays failed). docs/dispatch.md, "Task modules, imported ahead". Jobs
 * given with `idle()` (the code cache's write, src/shared/code-cache.ts)
 * wait their turn among the imports, the same way.
 */
import type { TaskLoader } from './load-task.js';

/**
 * How long after an offer, or after it becomes idle, a worker imports a
 * module ahead: long enough to skip the import when the next task is already on its way
 * (a backlog hands it one at once), short enough to be done before the
 * next request of a burst (at 20 ms, the bench's timeout row still found
 * the other worker without the module, 2–5 ms of import late).
 */
export const IDLE_MS = 2;

/** What the warmer needs of the runner. */
export interface Idleness {
  /** No task runs or waits here, and every result is written out. */
  readonly idle: boolean;
  /** Call `then` once, the next time the worker becomes idle. */
  whenIdle(then: () => void): void;
}

export class Warmer {
  readonly #loader: Pick<TaskLoader, 'warm'>;
  readonly #runner: Idleness;
  /** Modules offered and not imported yet, and idle jobs (`idle`), in the order given. */
  readonly #pending: (string | (() => void))[] = [];
  /** Every module ever offered (each is imported once at most). */
  readonly #offered = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  /** An import is under way, or the warmer waits for the runner to be idle. */
  #waiting = false;

  constructor(loader: Pick<TaskLoader, 'warm'>, runner: Idleness) {
    this.#loader = loader;
    this.#runner = runner;
  }

  /** Import these modules ahead, IDLE_MS from now if idle then (a module offered before is ignored). */
  offer(modules: readonly string[]): void {
    for (const module of modules) {
      if (this.#offered.has(module)) continue;
      this.#offered.add(module);
      this.#pending.push(module);
    }
    this.#arm();
  }

  /** Run `job` once, when idle as for an import ahead (after the modules offered before it). */
  idle(job: () => void): void {
    this.#pending.push(job);
    this.#arm();
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#waiting || this.#pending.length === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#next();
    }, IDLE_MS);
    this.#timer.unref();
  }

  #next(): void {
    if (!this.#runner.idle) {
      // Busy: idle for IDLE_MS again, counted from when it becomes idle.
      this.#waiting = true;
      this.#runner.whenIdle(() => {
        this.#waiting = false;
        this.#arm();
      });
      return;
    }
    const item = this.#pending.shift();
    if (item === undefined) return;
    if (typeof item === 'function') {
      item();
      if (this.#runner.idle) this.#next();
      else this.#arm();
      return;
    }
    const module = item;
    this.#waiting = true;
    void this.#loader.warm(module).then(() => {
      this.#waiting = false;
      if (this.#runner.idle) this.#next();
      else this.#arm();
    });
  }
}
