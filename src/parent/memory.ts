/**
 * RSS sampling for `memoryLimitBytes`: while a worker runs a task, the
 * resident memory of its whole process tree is read with pidusage every
 * `interval` ms; over the limit, `onExceed` is called (the engine kills the
 * tree). Sampling runs only while a watched worker is busy.
 *
 * pidusage caches one open /proc file per pid; `maxage` bounds how long a
 * dead pid's file stays open.
 */
import { importModule } from '../shared/dynamic-import.js';
import { descendants } from '../shared/kill.js';

const PIDUSAGE_MAXAGE_MS = 2_000;

interface Watched {
  readonly pid: number;
  memoryExceeded?(): boolean;
}

export class MemoryWatch {
  readonly #limit: number;
  readonly #interval: number;
  readonly #onExceed: (worker: Watched, rss: number) => void;
  readonly #watched = new Set<Watched>();
  #timer: NodeJS.Timeout | undefined;
  #sampling = false;
  /** What a sample reads: the tree's RSS, or (kernel cap) Infinity once the kernel OOM-killed in it. */
  readonly #measure: (worker: Watched) => number | Promise<number>;

  constructor(
    limit: number,
    interval: number,
    onExceed: (worker: Watched, rss: number) => void,
    measure?: (worker: Watched) => number,
  ) {
    this.#limit = limit;
    this.#interval = interval;
    this.#onExceed = onExceed;
    this.#measure = measure ?? ((worker) => treeRss(worker.pid));
  }

  get enabled(): boolean {
    return Number.isFinite(this.#limit);
  }

  watch(worker: Watched): void {
    if (!this.enabled) return;
    this.#watched.add(worker);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => void this.#sample(), this.#interval);
      this.#timer.unref();
    }
  }

  unwatch(worker: Watched): void {
    if (!this.#watched.delete(worker) || this.#watched.size > 0) return;
    this.stop();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#watched.clear();
  }

  async #sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      await Promise.all([...this.#watched].map((worker) => this.#check(worker)));
    } finally {
      this.#sampling = false;
    }
  }

  async #check(worker: Watched): Promise<void> {
    const rss = await this.#measure(worker);
    if (rss >= this.#limit && this.#watched.has(worker)) this.#onExceed(worker, rss);
  }
}

/** Summed RSS of `pid` and its descendants, in bytes; pids that vanish count 0. */
export async function treeRss(pid: number): Promise<number> {
  // Loaded on first use: only pools with memoryLimitBytes pay for it.
  const { default: pidusage } = await importModule<{ default: typeof import('pidusage') }>(
    'pidusage',
  );
  const pids = [pid, ...descendants(pid)];
  const sizes = await Promise.all(
    pids.map((p) =>
      pidusage(p, { maxage: PIDUSAGE_MAXAGE_MS }).then(
        (stat) => stat.memory,
        () => 0,
      ),
    ),
  );
  return sizes.reduce((a, b) => a + b, 0);
}
