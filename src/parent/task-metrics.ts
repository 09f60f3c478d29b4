/**
 * What the metrics know per task name: outcomes, queue wait and run time,
 * recorded when a task settles. Names are bounded so a pool given endless
 * distinct names keeps a fixed size: the first MAX_NAMES label values
 * submitted (observer.ts takes a name's slot at submit, with `of`) get their
 * own series, later ones share `name="other"`. Rendering is metrics.ts's.
 */
import { Histogram } from './histogram.js';

/** Distinct `name` label values kept, `unnamed` included; the rest fall under OTHER. */
export const MAX_NAMES = 64;
/** The `name` label of tasks submitted without a `name` (and of `map` items). */
export const UNNAMED = 'unnamed';
/** The `name` label shared by the names past MAX_NAMES. */
export const OTHER = 'other';

export type TaskOutcome = 'completed' | 'failed' | 'cancelled';

export class NameMetrics {
  completed = 0;
  failed = 0;
  cancelled = 0;
  /** Seconds from submit to the hand-off to a worker, of the tasks that reached one. */
  readonly queueWait = new Histogram();
  /** Seconds from the hand-off to settling, of the tasks that reached a worker. */
  readonly runTime = new Histogram();
  /** CPU seconds used by the tasks that settled (future.usage). */
  cpuSeconds = 0;
}

export class TaskMetrics {
  readonly #byName = new Map<string, NameMetrics>();

  /** Every label value seen, with its metrics, in the order first seen. */
  entries(): IterableIterator<[string, NameMetrics]> {
    return this.#byName.entries();
  }

  /** The metrics of tasks named `name`: its own, `unnamed`, or `other` once MAX_NAMES are taken. */
  of(name: string | undefined): NameMetrics {
    let key = name || UNNAMED;
    let entry = this.#byName.get(key);
    if (entry !== undefined) return entry;
    if (this.#byName.size >= MAX_NAMES) {
      key = OTHER;
      entry = this.#byName.get(key);
      if (entry !== undefined) return entry;
    }
    entry = new NameMetrics();
    this.#byName.set(key, entry);
    return entry;
  }

  /**
   * Count `size` tasks (a `map` batch is several) that settled with `outcome`;
   * `completed` of them succeeded when the outcome is `completed`, as the
   * statistics count them. `waitMs` and `runMs` (the whole batch's) are given
   * when the tasks reached a worker: each item counts with an equal share.
   */
  record(
    name: string | undefined,
    outcome: TaskOutcome,
    size: number,
    completed: number,
    waitMs?: number,
    runMs?: number,
  ): void {
    const entry = this.of(name);
    if (outcome === 'completed') {
      entry.completed += completed;
      entry.failed += size - completed;
    } else if (outcome === 'failed') entry.failed += size;
    else entry.cancelled += size;
    if (waitMs !== undefined) entry.queueWait.observe(waitMs / 1000, size);
    if (runMs !== undefined) entry.runTime.observe(runMs / 1000 / size, size);
  }
}
