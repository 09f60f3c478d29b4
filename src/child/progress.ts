/**
 * Child side of `reportProgress`: sends a task's progress values to the pool
 * in the order they were reported. While too many sends are still being
 * written (the parent reads slower than the task reports), later values are
 * coalesced: only the latest waits, and it goes out as soon as a write
 * completes, or right before the task's result. So reporting never blocks the
 * task, and the last value reported before the task ends always arrives
 * first. Which task is running is the runner's business.
 */
import type { WorkerMessage } from '../shared/protocol.js';

/** Sends still being written before values start to be coalesced. */
const MAX_IN_FLIGHT = 16;

type Send = (message: WorkerMessage, then: () => void) => void;

export class ProgressSender {
  readonly #send: Send;
  #inFlight = 0;
  /** The latest value of each task that waits to go out (one slot per task). */
  readonly #pending = new Map<number, unknown>();

  constructor(send: Send) {
    this.#send = send;
  }

  /** Report `value` for task `id`; throws a TypeError (in the task) if it cannot be cloned. */
  report(id: number, value: unknown): void {
    try {
      if (this.#inFlight < MAX_IN_FLIGHT && this.#pending.size === 0) {
        this.#write(id, value);
        return;
      }
      structuredClone(value); // a value that cannot cross fails in the task, not later
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new TypeError(`reportProgress() got a value that cannot be cloned: ${reason}`, {
        cause: error,
      });
    }
    this.#pending.delete(id); // its latest goes out after the others' waiting values
    this.#pending.set(id, value);
  }

  /** Task `id` ends: its coalesced value, if any, goes out now, ahead of the result. */
  flush(id: number): void {
    if (!this.#pending.has(id)) return;
    const value = this.#pending.get(id);
    this.#pending.delete(id);
    this.#write(id, value);
  }

  #write(id: number, value: unknown): void {
    this.#send({ t: 'progress', id, value }, () => {
      this.#inFlight--;
      if (this.#pending.size > 0 && this.#inFlight < MAX_IN_FLIGHT) {
        const [id, value] = this.#pending.entries().next().value as [number, unknown];
        this.#pending.delete(id);
        this.#write(id, value);
      }
    });
    this.#inFlight++;
  }
}
