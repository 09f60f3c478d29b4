/**
 * A job: one submitted task (or one batch of `map` items) on its way through
 * the backlog to a worker. What it is (id, spec, arguments, options, future,
 * stream) is fixed at construction; where it is changes only through the
 * methods below, each legal from the places listed in MOVES, the way a
 * worker changes through its TRANSITIONS (worker.ts). The dispatcher
 * (dispatch.ts) is the only caller of the moves; everyone else reads.
 *
 * waiting → sent → running → left, with `queued` (waiting inside a busy
 * worker) before `sent`, and back to `waiting` when a worker hands it back or
 * dies before it started. Its clocks are deadlines.ts's (kept there), its
 * tracing context tracing.ts's, its place in the backlog backlog.ts's.
 */
import { CancelledError } from '../shared/errors.js';
import type { TaskSpec } from '../shared/protocol.js';
import { Future, type CancelHooks } from './future.js';
import type { TaskStream } from './stream.js';
import type { JobOptions } from './submit-options.js';
import type { Worker } from './worker.js';

/**
 * `waiting`: in the backlog, for no worker yet. `queued`: inside a busy
 * worker, behind its running task (still waiting, as the README says).
 * `sent`: handed to a worker as the task it runs, not yet confirmed started.
 * `running`: the worker confirmed it; its clock runs. `left`: it gave its
 * worker back (settled, or dropped after its future settled).
 */
export type JobPlace = 'waiting' | 'queued' | 'sent' | 'running' | 'left';

/** The places each place may move to. */
export const MOVES: Readonly<Record<JobPlace, readonly JobPlace[]>> = {
  waiting: ['queued', 'sent', 'left'],
  queued: ['sent', 'running', 'waiting', 'left'],
  sent: ['queued', 'running', 'waiting', 'left'],
  running: ['left'],
  left: [],
};

/** Makes the future (and, for `pool.stream`, the stream around it) of a new job. */
export type Outlet = (job: Job) => { future: Future<unknown>; stream?: TaskStream<unknown> };

export class Job {
  readonly id: number;
  readonly spec: TaskSpec;
  readonly args: unknown[];
  /** How many tasks it stands for: 1, or the items of a batch. */
  readonly size: number;
  readonly batch: boolean;
  readonly options: JobOptions;
  readonly submittedAt = performance.now();
  readonly future: Future<unknown>;
  /** For `pool.stream`: where its values go. */
  readonly stream: TaskStream<unknown> | undefined;
  /** Its stamp in the backlog's queue while it waits there; the backlog's own (seq-queue.ts). */
  stamp: number | undefined = undefined;
  #place: JobPlace = 'waiting';
  #worker: Worker | undefined;
  // Undefined until set: a number field would hold a boxed double in every
  // job, also the thousands waiting in the backlog (docs/performance.md).
  #startedAt: number | undefined;
  #confirmedAt: number | undefined;
  #launched = false;
  #requeued = false;
  #unlisten: (() => void) | undefined;

  constructor(
    id: number,
    spec: TaskSpec,
    args: unknown[],
    options: JobOptions,
    batch: boolean,
    outlet: Outlet | CancelHooks<Job>,
  ) {
    this.id = id;
    this.spec = spec;
    this.args = args;
    this.options = options;
    this.batch = batch;
    this.size = batch ? args.length : 1;
    const made =
      typeof outlet === 'function'
        ? outlet(this)
        : { future: new Future<unknown>(outlet, this), stream: undefined };
    this.future = made.future;
    this.stream = made.stream;
    const { signal } = options;
    if (signal && !signal.aborted) {
      // Listening starts with the job and ends when it settles (`unlisten`).
      const onAbort = (): void => this.#onAbort?.(signal);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#unlisten = () => signal.removeEventListener('abort', onAbort);
    }
  }

  #onAbort: ((signal: AbortSignal) => void) | undefined;

  /** What its submit signal's abort does (set once, by the engine). */
  onAbort(handler: (signal: AbortSignal) => void): void {
    this.#onAbort = handler;
  }

  /** Stop listening to its submit signal (it settled). */
  unlisten(): void {
    this.#unlisten?.();
    this.#unlisten = undefined;
  }

  get priority(): number {
    return this.options.priority;
  }

  /** Whose turn it waits for in the backlog (fair-queue.ts). */
  get tenant(): string | undefined {
    return this.options.tenant;
  }

  /** Its place among tasks of the same priority: its id, kept when it is put back. */
  get seq(): number {
    return this.id;
  }

  get place(): JobPlace {
    return this.#place;
  }

  /** The worker it was handed to (or waits inside), while it is there. */
  get worker(): Worker | undefined {
    return this.#worker;
  }

  /** `performance.now()` when its clock started (0 until then). */
  get startedAt(): number {
    return this.#startedAt ?? 0;
  }

  /**
   * `performance.now()` when the worker's word that it runs came (0 until
   * then): how long it is known to have run, where `startedAt` may count from
   * the hand-off.
   */
  get confirmedAt(): number {
    return this.#confirmedAt ?? 0;
  }

  /** Counted in `tasksLaunched` (at a hand-off, or, queued inside a worker, when it started). */
  get launched(): boolean {
    return this.#launched;
  }

  /** The worker confirmed it runs (or its clock runs from the hand-off and the word came). */
  get acked(): boolean {
    return this.#place === 'running';
  }

  /** Waits inside a busy worker, or came from there and is not yet confirmed. */
  get pipelined(): boolean {
    return this.#place === 'queued' || (this.#place === 'sent' && !this.#launched);
  }

  /** Taken from the backlog and not back: queued inside a worker, sent, or running. */
  get taken(): boolean {
    const p = this.#place;
    return p === 'queued' || p === 'sent' || p === 'running';
  }

  /** Put back once already because its worker died before starting it. */
  get requeued(): boolean {
    return this.#requeued;
  }

  // ---- moves (dispatch.ts) -------------------------------------------------

  /** waiting → queued: it waits inside the busy `worker`. */
  queueIn(worker: Worker): void {
    this.#move('queueIn', 'queued');
    this.#worker = worker;
  }

  /** waiting → sent: handed to the idle `worker` as its task (launched once the message went). */
  handTo(worker: Worker): void {
    this.#move('handTo', 'sent');
    this.#worker = worker;
  }

  /** It was sent to its worker as the task it runs: it counts as launched, its clock from `now`. */
  launch(now: number): void {
    this.#launched = true;
    this.#startedAt = now;
  }

  /** queued → sent: its worker runs it next; it waits for the word that it started. */
  promote(): void {
    this.#move('promote', 'sent');
  }

  /** sent → queued: its worker started another of its queued tasks first; this one waits on. */
  demote(): void {
    this.#move('demote', 'queued');
  }

  /**
   * sent | queued → running: its clock runs. A job that waited inside the
   * worker is launched only now; returns whether it was launched by this call.
   */
  confirm(now: number): boolean {
    this.#move('confirm', 'running');
    this.#confirmedAt = now;
    if (this.#launched) return false;
    this.launch(now);
    return true;
  }

  /**
   * queued | sent → waiting: it goes back to the backlog (handed back, or
   * its worker died before starting it). A job that had been launched is no
   * longer; returns whether it was (so the count can be taken back).
   */
  backToWaiting(): boolean {
    this.#move('backToWaiting', 'waiting');
    this.#worker = undefined;
    const was = this.#launched;
    this.#launched = false;
    this.#startedAt = undefined;
    return was;
  }

  /** Its worker died before starting it: it may go back once. False if it did already. */
  markRequeued(): boolean {
    if (this.#requeued) return false;
    this.#requeued = true;
    return true;
  }

  /** → left: it gives its worker back. Leaving twice does nothing. */
  leave(): void {
    if (this.#place === 'left') return;
    this.#move('leave', 'left');
    this.#worker = undefined;
  }

  #move(what: string, to: JobPlace): void {
    const from = this.#place;
    if (!MOVES[from].includes(to)) {
      throw new Error(`deadpool bug: task ${this.id} cannot ${what} while ${from}`);
    }
    this.#place = to;
  }
}

/** The task's module has not been imported by `worker` yet. */
export function needsImport(job: Job, worker: Worker): boolean {
  return job.spec.kind === 'module' && !worker.loaded.has(job.spec.module);
}

export function label(job: Job): string {
  return job.options.name ? `${job.id} (${job.options.name})` : String(job.id);
}

export function cancelledBySignal(job: Job, signal: AbortSignal): CancelledError {
  return new CancelledError(`task ${label(job)} was cancelled by its signal`, {
    cause: signal.reason,
  });
}
