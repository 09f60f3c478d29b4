/**
 * The engine's one door to observability: a job was submitted, a job
 * settled. It takes a name's label slot at submit and records the per-name metrics (task-metrics.ts) and publishes
 * the tracing events (tracing.ts); the hand-off to a worker is traced by the
 * dispatcher itself (`traceRun`). Cheap on the hot path: a map lookup and two
 * bucket increments per settled task, and nothing for tracing unless someone
 * subscribes.
 */
import type { Deadpool } from './deadpool.js';
import type { Job } from './job.js';
import { TaskMetrics, type TaskOutcome } from './task-metrics.js';
import { traceSettle, traceSubmit } from './tracing.js';

export class Observer {
  readonly tasks = new TaskMetrics();
  /** Given to tracing subscribers. */
  readonly #pool: Deadpool;

  constructor(pool: Deadpool) {
    this.#pool = pool;
  }

  /**
   * A job was accepted. Its name takes its `name` label slot now, if one is
   * free, so the names submitted first keep their own series whatever order
   * their tasks settle in.
   */
  submitted(job: Job): void {
    this.tasks.of(job.options.name);
    traceSubmit(job, this.#pool);
  }

  /**
   * Called by the engine's `#settle`, after the statistics and while the job
   * still knows its worker. `completed` is as `#settle` has it.
   */
  settled(job: Job, outcome: TaskOutcome, value: unknown, completed: number): void {
    if (job.worker !== undefined && job.startedAt > 0) {
      const now = performance.now();
      const { startedAt } = job;
      this.tasks.record(
        job.options.name,
        outcome,
        job.size,
        completed,
        startedAt - job.submittedAt,
        now - startedAt,
      );
    } else {
      this.tasks.record(job.options.name, outcome, job.size, completed);
    }
    const usage = job.future.usage;
    if (usage !== undefined) this.tasks.of(job.options.name).cpuSeconds += usage.cpuTimeMs / 1000;
    traceSettle(job, outcome === 'completed', value);
  }
}
