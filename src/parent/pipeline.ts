/**
 * Pipelining: while recent tasks are short, the best waiting tasks are
 * queued ahead inside busy workers, taken from the top of the backlog's heap
 * (so in priority order), a batch per worker per turn. It sizes the queues
 * from the average run time of recent tasks (policy.pipelineDepth), queues a
 * task with an `affinity` only inside a worker that holds it, lets a
 * later task of higher priority overtake those waiting inside a worker, asks
 * workers to hand tasks back (drop: a cancel, a retirement, an idle worker
 * with nothing left to take), and never moves a job itself (the
 * dispatcher's `queue` hook does). What happens to a task that comes back is
 * the dispatcher's.
 */
import type { Backlog } from './backlog.js';
import type { Fleet } from './fleet.js';
import { needsImport, type Job } from './job.js';
import type { Settings } from './options.js';
import { pipelinable, pipelineDepth, queueRoom, refillRoom, tasksToSteal } from './policy.js';
import type { Worker } from './worker.js';

/** Weight of the newest run time in the average that sizes pipelining. */
const RUN_TIME_WEIGHT = 0.2;

/** The dispatcher's side of pipelining: the moves of a job are its. */
export interface PipelineHooks {
  /** `job`, just taken from the backlog, waits inside the busy `worker`. */
  queue(worker: Worker, job: Job): void;
  /** Send jobs a worker already holds, in one message. */
  send(worker: Worker, jobs: Job[]): void;
}

export class Pipeline {
  readonly #backlog: Backlog<Job>;
  readonly #fleet: Fleet;
  readonly #settings: Settings;
  readonly #hooks: PipelineHooks;
  /** Average run time of recent tasks, in ms; undefined until one has run. */
  #avgRunMs: number | undefined;
  #scheduled = false;

  constructor(backlog: Backlog<Job>, fleet: Fleet, settings: Settings, hooks: PipelineHooks) {
    this.#backlog = backlog;
    this.#fleet = fleet;
    this.#settings = settings;
    this.#hooks = hooks;
  }

  /** A job that ran ended: its run time sizes pipelining. */
  noteRunTime(ms: number): void {
    const avg = this.#avgRunMs;
    this.#avgRunMs = avg === undefined ? ms : avg + (ms - avg) * RUN_TIME_WEIGHT;
  }

  /** Top up the busy workers once this turn's work is done (a burst of submits is one pass). */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#topUp();
    });
  }

  /**
   * Queue the best waiting tasks inside busy workers while recent tasks are
   * short, up to each worker's room. Never while a worker is idle (the task
   * goes to it), and never past the best waiting task: if it may not wait
   * inside any busy worker, nothing behind it may either.
   */
  #topUp(): void {
    if (this.#backlog.size === 0 || this.#fleet.counts.idle > 0) return;
    // With several tasks per worker a worker takes tasks while it has room: nothing waits inside.
    if (this.#settings.concurrentTasksPerWorker > 1) return;
    const depth = pipelineDepth(this.#avgRunMs);
    const { maxTasksPerChild } = this.#settings;
    const now = performance.now();
    for (const worker of this.#fleet.busyWorkers()) {
      // A worker whose channel closed is on its way out: a send to it fails,
      // and the tasks it gave back would be offered to it again, without end.
      if (!worker.connected) continue;
      const queued = worker.queued;
      const facts = {
        depth: Infinity,
        queued: queued.length,
        tasksRun: worker.tasksRun,
        maxTasksPerChild,
        marked: worker.retireAfterTask !== undefined,
        stale: !this.#fleet.current(worker),
      };
      // What it may take at all, and what it should take to stay busy.
      let open = queueRoom(facts);
      if (open === 0) continue;
      facts.depth = depth;
      let room = refillRoom(queueRoom(facts), queued.length, depth, runningFor(worker, now));
      // Of what waits inside it: tasks of a priority other than 0, and the best priority.
      let lowerQueued = 0;
      let best = Infinity;
      for (const j of queued) {
        if (j.priority !== 0) lowerQueued++;
        if (j.priority < best) best = j.priority;
      }
      const batch: Job[] = [];
      while (open > 0) {
        const job = this.#backlog.peek();
        if (job === undefined) break;
        // A task with an affinity waits only inside a worker that holds it.
        if (!holds(worker, job.options.affinity)) break;
        const { priority } = job;
        const task = {
          needsImport: needsImport(job, worker),
          timeout: job.options.timeout,
          priority,
          lowerQueued,
        };
        // A task better than all that wait inside goes first there: it may
        // always be queued, so it never waits behind them.
        const overtakes = queued.length > 0 && priority < best;
        if (room > 0 && pipelinable(task)) room--;
        else if (!overtakes || !pipelinable({ ...task, lowerQueued: 0 })) break;
        open--;
        this.#backlog.take(job);
        this.#hooks.queue(worker, job);
        if (priority !== 0) lowerQueued++;
        if (priority < best) best = priority;
        batch.push(job);
      }
      if (batch.length > 0) this.#hooks.send(worker, batch);
    }
  }

  /** Ask `worker` to hand back `jobs` if they still wait inside it (answered by `onDropped`). */
  drop(worker: Worker, jobs: readonly Job[]): void {
    if (jobs.length === 0) return;
    try {
      worker.send({ t: 'drop', ids: jobs.map((job) => job.id) });
    } catch {
      // the worker is going away; its exit puts its tasks back
    }
  }

  /**
   * A worker became idle with nothing left in the backlog: take back tasks
   * waiting inside busy workers (policy.tasksToSteal), the ones each would
   * start last, so the idle worker gets them.
   */
  onIdle(): void {
    if (this.#backlog.size > 0 || this.#fleet.queuedTasks === 0) return;
    const now = performance.now();
    for (const worker of this.#fleet.busyWorkers()) {
      const queued = worker.queued;
      const n = tasksToSteal({ queued: queued.length, runningForMs: runningFor(worker, now) });
      if (n === 0) continue;
      const lastToStart = [...queued].sort((a, b) => b.priority - a.priority || b.seq - a.seq);
      this.drop(worker, lastToStart.slice(0, n));
    }
  }
}

/** `worker` holds `affinity` (or will, by a task queued inside it); no affinity: any worker does. */
function holds(worker: Worker, affinity: string | undefined): boolean {
  if (affinity === undefined) return true;
  if (worker.affinity === affinity && worker.queued.every((j) => j.options.affinity === undefined))
    return true;
  const last = [...worker.queued].reverse().find((j) => j.options.affinity !== undefined);
  return last?.options.affinity === affinity;
}

/** How long the worker's running task is known to have run, in ms (0 until the worker confirmed it). */
function runningFor(worker: Worker, now: number): number {
  const job = worker.job;
  return job?.acked ? now - job.confirmedAt : 0;
}
