/**
 * One machine's BullMQ processor: looks a job's name up among the registered
 * tasks, runs it in the deadpool pool with the job's timeout, and turns the
 * outcome into what BullMQ expects: a result, an error to retry, an
 * UnrecoverableError (unknown task, bad data, cancelled, `retryOn` said no),
 * or a job handed back to the queue (`moveToWait` + WaitingError) when
 * `close()` runs out of drain time. Progress goes out through a ProgressRelay. It also keeps the jobs running here, so a
 * cancel broadcast can kill one.
 */
import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import { CancelledError, type Deadpool, type Future, type TaskRef } from '../index.js';
import { describeError, UNKNOWN_TASK } from './errors.js';
import { readJobData } from './options.js';
import { ProgressRelay } from './progress-relay.js';

interface Run {
  future: Future<unknown> | undefined;
  /** Set by a cancel: the job fails for good. */
  cancelled: string | undefined;
  /** Set when the drain time is up: the job goes back to the queue. */
  handBack: boolean;
}

/**
 * How long a cancel for a job not running here is remembered, in case the
 * job starts here later; a machine also hears the cancels published this
 * long before it started (control.ts, listenForCancels).
 */
export const REMEMBER_CANCEL_MS = 10 * 60_000;
const MAX_REMEMBERED = 10_000;

export interface RunnerSettings {
  queue: string;
  pool: Deadpool;
  registry: ReadonlyMap<string, TaskRef>;
  retryOn: (error: unknown, job: Job) => boolean;
  /** Least milliseconds between two progress writes of one job. */
  progressInterval: number;
}

function cancelledMessage(id: string, reason: string): string {
  const error = new CancelledError(`job ${id} was cancelled${reason ? `: ${reason}` : ''}`);
  return describeError(error);
}

/** An Error carrying `message` for BullMQ's `failedReason` and the original stack for its `stacktrace`. */
function attemptError(message: string, original: unknown, Ctor: new (m: string) => Error): Error {
  const error = new Ctor(message);
  if (original instanceof Error && typeof original.stack === 'string') error.stack = original.stack;
  return error;
}

export class JobRunner {
  readonly #settings: RunnerSettings;
  readonly #running = new Map<string, Run>();
  readonly #cancels = new Map<string, { reason: string; at: number }>();
  #handingBack = false;
  #idle: (() => void) | undefined;

  constructor(settings: RunnerSettings) {
    this.#settings = settings;
  }

  /** BullMQ's processor. Three declared parameters, so BullMQ passes its signal (`worker.cancelJob`). */
  readonly process = (
    job: Job,
    token: string | undefined,
    signal?: AbortSignal,
  ): Promise<unknown> => this.#process(job, token, signal);

  /** A cancel broadcast: kill the job if it runs here, and refuse it if it starts here later. */
  cancel(jobId: string, reason: string): void {
    const now = Date.now();
    for (const [id, { at }] of this.#cancels) {
      if (now - at < REMEMBER_CANCEL_MS && this.#cancels.size < MAX_REMEMBERED) break;
      this.#cancels.delete(id);
    }
    this.#cancels.set(jobId, { reason, at: now });
    const run = this.#running.get(jobId);
    if (run && run.cancelled === undefined) {
      run.cancelled = reason;
      run.future?.cancelAndKill();
    }
  }

  /**
   * Wait up to `timeoutMs` for the running jobs to finish, then kill the rest
   * and hand them back to the queue (as every job that starts from now on).
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.#running.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.#idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#idle = undefined;
    }
    this.#handingBack = true;
    for (const run of this.#running.values()) {
      run.handBack = true;
      run.future?.cancelAndKill();
    }
  }

  async #process(
    job: Job,
    token: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const id = job.id ?? '';
    if (this.#handingBack) return this.#handBack(job, token);
    const cancel = this.#cancels.get(id);
    if (cancel) throw new UnrecoverableError(cancelledMessage(id, cancel.reason));
    const task = this.#settings.registry.get(job.name);
    if (task === undefined) {
      // Never resolved as a module or a path: only registered tasks run.
      const error = Object.assign(
        new Error(
          `job ${id} names the task \`${job.name}\`, which is not registered on this machine`,
        ),
        { code: UNKNOWN_TASK },
      );
      throw new UnrecoverableError(describeError(error));
    }
    const data = readJobData(job.data);
    if (data === undefined) {
      const error = new TypeError(`job ${id}'s data is not { args: [...], timeout?: ms }`);
      throw new UnrecoverableError(describeError(error));
    }
    const run: Run = { future: undefined, cancelled: undefined, handBack: false };
    const relay = new ProgressRelay(job, this.#settings.progressInterval);
    this.#running.set(id, run);
    const onAbort = (): void =>
      this.cancel(id, signal?.reason === undefined ? '' : String(signal.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      run.future = this.#settings.pool.submit(task, data.args, {
        name: `${this.#settings.queue}/${id}`,
        onProgress: (value) => relay.push(value),
        ...(data.timeout === undefined ? {} : { timeout: data.timeout }),
      });
      return await run.future;
    } catch (error) {
      if (run.handBack) return await this.#handBack(job, token);
      if (run.cancelled !== undefined)
        throw new UnrecoverableError(cancelledMessage(id, run.cancelled));
      const message = describeError(error);
      if (!this.#mayRetry(error, job)) throw attemptError(message, error, UnrecoverableError);
      throw attemptError(message, error, Error);
    } finally {
      // The last progress value is in Redis before the job's outcome.
      if (run.handBack) relay.close();
      else await relay.flush();
      signal?.removeEventListener('abort', onAbort);
      this.#running.delete(id);
      if (this.#running.size === 0) this.#idle?.();
    }
  }

  /** `retryOn`'s answer; one that throws is a warning and lets BullMQ retry. */
  #mayRetry(error: unknown, job: Job): boolean {
    try {
      return this.#settings.retryOn(error, job) !== false;
    } catch (thrown) {
      process.emitWarning(`deadpool/bullmq: retryOn threw: ${describeError(thrown)}`, {
        code: 'DEADPOOL_CALLBACK',
      });
      return true;
    }
  }

  /** Back to the queue without spending an attempt. */
  async #handBack(job: Job, token: string | undefined): Promise<never> {
    if (token === undefined)
      throw new Error(`job ${job.id} has no lock token to hand it back with`);
    await job.moveToWait(token);
    throw new WaitingError();
  }
}
