/**
 * Carries one job's `reportProgress` values to Redis (`job.updateProgress`,
 * which BullMQ publishes as a 'progress' event to every QueueEvents): at most
 * one write per `intervalMs` and one at a time, always the latest value, and
 * the last value written before the job's outcome (`flush`).
 */
import type { Job } from 'bullmq';

export class ProgressRelay {
  readonly #job: Job;
  readonly #intervalMs: number;
  #latest: unknown;
  #pending = false;
  #lastWrite = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #closed = false;

  constructor(job: Job, intervalMs: number) {
    this.#job = job;
    this.#intervalMs = intervalMs;
  }

  /** A value from the task; written now, or later with whatever is latest by then. */
  push(value: unknown): void {
    if (this.#closed) return;
    this.#latest = value;
    this.#pending = true;
    this.#schedule();
  }

  /** Write the value still waiting, if any, and stop. Never rejects. */
  async flush(): Promise<void> {
    this.#stop();
    await this.#writing;
    if (this.#pending) await this.#write();
  }

  /** Stop without writing what waits (the job goes back to the queue). */
  close(): void {
    this.#stop();
  }

  #stop(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#writing !== undefined || this.#closed) return;
    const wait = this.#lastWrite + this.#intervalMs - performance.now();
    if (wait <= 0) {
      this.#writing = this.#write().finally(() => {
        this.#writing = undefined;
        if (this.#pending) this.#schedule();
      });
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#schedule();
    }, wait);
  }

  async #write(): Promise<void> {
    const value = this.#latest;
    this.#pending = false;
    this.#lastWrite = performance.now();
    try {
      await this.#job.updateProgress(value as Parameters<Job['updateProgress']>[0]);
    } catch {
      // Progress is advisory: a failed write (Redis away, job gone) must not fail the job.
    }
  }
}
