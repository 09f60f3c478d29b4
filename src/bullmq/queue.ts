/**
 * DeadpoolQueue: the submitting side. `submit` adds a BullMQ job named after
 * a defined task and returns a RemoteFuture at once; the queue's event stream
 * (QueueEvents) settles it: completed, failed, removed, or found finished
 * when a job with the same id already existed. Cancel is here too: a job not
 * running is removed, a running one is killed by a broadcast to the machines.
 */
import { Queue, QueueEvents, type JobsOptions, type QueueEventsProducer } from 'bullmq';
import { randomUUID } from 'node:crypto';
import {
  CancelledError,
  PoolClosedError,
  type SubmitArgs,
  type Task,
  type TaskFunction,
} from '../index.js';
import { CancelPublisher, handshake, helloProducer, type StreamOptions } from './control.js';
import { reasonText, rebuildError } from './errors.js';
import {
  checkQueueName,
  checkQueueOptions,
  jobOf,
  taskName,
  type DeadpoolQueueOptions,
  type QueueSubmitOptions,
} from './options.js';
import { progressRemote, RemoteFuture, settleRemote, type RemoteHooks } from './remote-future.js';

/** `args` may be left out when the task takes no required argument (as the pool's `submit`). */
export type QueueSubmitArgs<F extends TaskFunction> = SubmitArgs<F, QueueSubmitOptions>;

type Any = RemoteFuture<unknown>;
const FINISHED = new Set<string>(['completed', 'failed']);

export class DeadpoolQueue {
  /** The BullMQ Queue behind it, for counts, pausing, cleaning and the like. */
  readonly queue: Queue;
  readonly #events: QueueEvents;
  readonly #cancels: CancelPublisher;
  readonly #hello: QueueEventsProducer;
  readonly #listening: Promise<void>;
  /** Futures not yet settled, by job id (several when the same `jobId` is submitted twice). */
  readonly #pending = new Map<string, Set<Any>>();
  /** Why a job we removed was cancelled, until its 'removed' event settles its futures. */
  readonly #reasons = new Map<string, unknown>();
  readonly #hooks: RemoteHooks;
  #closing: Promise<void> | undefined;

  constructor(name: string, options: DeadpoolQueueOptions) {
    checkQueueName(name);
    checkQueueOptions(options);
    const stream: StreamOptions = { connection: options.connection };
    if (options.prefix !== undefined) stream.prefix = options.prefix;
    this.queue = new Queue(name, {
      ...stream,
      ...(options.defaultJobOptions ? { defaultJobOptions: options.defaultJobOptions } : {}),
    });
    this.#events = new QueueEvents(name, stream);
    this.#events.on('error', (error) => this.#report(error));
    this.#cancels = new CancelPublisher(name, stream);
    this.#hooks = {
      cancel: (future, reason) => this.#cancel(future, reason),
      state: (id) => this.queue.getJobState(id),
    };
    this.#listen();
    // Jobs are added only once the event stream is read live, so no outcome goes unseen.
    this.#hello = helloProducer(name, stream);
    this.#listening = handshake(
      this.#events,
      this.#hello,
      () => this.#closing !== undefined,
      (error) => this.#report(error),
    );
    this.#listening.catch(() => {});
  }

  /** Add a job running `task(...args)` on some machine. Returns at once. */
  submit<F extends TaskFunction>(
    task: Task<F>,
    ...rest: QueueSubmitArgs<F>
  ): RemoteFuture<Awaited<ReturnType<F>>> {
    const [args = [], options] = rest as unknown as [
      unknown[] | undefined,
      QueueSubmitOptions | undefined,
    ];
    const name = taskName(task, 'task');
    const { data, opts, signal, onProgress } = jobOf(args, options);
    if (this.#closing)
      throw new PoolClosedError('the DeadpoolQueue is closed and takes no new jobs');
    const id = opts.jobId ?? randomUUID();
    const jobOptions: JobsOptions = { ...opts, jobId: id };
    const added = this.#listening.then(async () => {
      await this.queue.add(name, data, jobOptions);
    });
    const future = new RemoteFuture<Awaited<ReturnType<F>>>(this.#hooks, id, added);
    const list = this.#pending.get(id) ?? new Set();
    list.add(future as Any);
    this.#pending.set(id, list);
    added.catch((error: unknown) => this.#settle(future as Any, false, error));
    if (onProgress) future.addProgressCallback((value) => onProgress(value));
    if (signal) {
      const abort = (): void =>
        void future.cancel(signal.reason).catch((e: unknown) => this.#report(e));
      if (signal.aborted) abort();
      else {
        signal.addEventListener('abort', abort, { once: true });
        future.finally(() => signal.removeEventListener('abort', abort)).catch(() => {});
      }
    }
    return future;
  }

  /**
   * Close the connections. Futures still pending reject with PoolClosedError;
   * their jobs go on in Redis. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const list of this.#pending.values()) {
        for (const future of list) {
          this.#settle(
            future,
            false,
            new PoolClosedError(
              `the DeadpoolQueue was closed before job ${future.id} finished; the job goes on`,
            ),
          );
        }
      }
      await Promise.allSettled([this.#events.close(), this.#hello.close(), this.#cancels.close()]);
      await this.#listening.catch(() => {});
      await this.queue.close();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #listen(): void {
    const events = this.#events;
    events.on('completed', ({ jobId, returnvalue }) => this.#settleAll(jobId, true, returnvalue));
    events.on('failed', ({ jobId, failedReason }) =>
      this.#settleAll(jobId, false, rebuildError(failedReason)),
    );
    events.on('progress', ({ jobId, data }) => {
      for (const future of this.#pending.get(jobId) ?? []) progressRemote(future, data);
    });
    events.on('removed', ({ jobId, prev }) => {
      if (FINISHED.has(prev)) return;
      const reason = this.#reasons.get(jobId);
      const error = new CancelledError(
        `job ${jobId} was removed from the queue before it finished`,
        reason === undefined ? undefined : { cause: reason },
      );
      this.#settleAll(jobId, false, error);
    });
    // A job with this id existed already: it may have finished long ago.
    events.on('duplicated', ({ jobId }) => void this.#settleFromRecord(jobId));
  }

  async #settleFromRecord(id: string): Promise<void> {
    if (!this.#pending.has(id)) return;
    try {
      const job = await this.queue.getJob(id);
      const state = job ? await job.getState() : 'unknown';
      if (state === 'completed') this.#settleAll(id, true, job?.returnvalue);
      else if (state === 'failed')
        this.#settleAll(id, false, rebuildError(job?.failedReason ?? ''));
    } catch (error) {
      this.#report(error);
    }
  }

  /** Redis trouble goes to the Queue's 'error' listeners (BullMQ logs it when there are none). */
  #report(error: unknown): void {
    this.queue.emit('error', error instanceof Error ? error : new Error(String(error)));
  }

  #settleAll(id: string, ok: boolean, value: unknown): void {
    const list = this.#pending.get(id);
    if (!list) return;
    for (const future of list) this.#settle(future, ok, value);
  }

  #settle(future: Any, ok: boolean, value: unknown): void {
    const list = this.#pending.get(future.id);
    if (list?.delete(future) && list.size === 0) {
      this.#pending.delete(future.id);
      this.#reasons.delete(future.id);
    }
    settleRemote(future, ok, value);
  }

  async #cancel(future: Any, reason: unknown): Promise<boolean> {
    try {
      await future.added;
    } catch {
      return false;
    }
    const id = future.id;
    const state = await this.queue.getJobState(id);
    if (FINISHED.has(state) || state === 'unknown' || future.done()) return false;
    if (reason !== undefined) this.#reasons.set(id, reason);
    if ((await this.queue.remove(id)) === 1) {
      // Its 'removed' event settles the future (or its 'completed' one, if it just finished).
      return future.then(
        () => false,
        (error: unknown) => error instanceof CancelledError,
      );
    }
    // Locked: it runs on some machine. Every machine hears this; the one running it kills it.
    await this.#cancels.publish({ jobId: id, reason: reasonText(reason) });
    return true;
  }
}
