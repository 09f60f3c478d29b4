/**
 * `pool.metrics()`: the pool's metrics in the Prometheus text format, and
 * the validation of its options. Every metric the pool exposes is listed
 * here, once; the table in docs/observability.md follows this file. The
 * counters come from the statistics (stats.ts) and the per-name figures from
 * task-metrics.ts, so the two never disagree.
 */
import { Exposition, LABEL_NAME, METRIC_NAME, type Labels } from './exposition.js';
import { BUCKETS, type Histogram } from './histogram.js';
import { invalid, knownKeys } from './validate.js';
import type { Stats } from './stats.js';
import type { NameMetrics, TaskMetrics } from './task-metrics.js';
import type { WorkerState } from './worker.js';

export interface MetricsOptions {
  /** Prepended, with `_`, to every metric name. @default 'deadpool' */
  prefix?: string;
  /** Label name → value, added to every series (so several pools can share one scrape). @default {} */
  labels?: Record<string, string>;
}

export interface MetricsSettings {
  readonly prefix: string;
  readonly labels: Labels;
}

/** The labels the pool sets itself; `labels` may not use them. */
const OWN_LABELS = ['name', 'outcome', 'reason', 'state', 'le'];
const KNOWN = ['prefix', 'labels'];
/** The worker states counted as alive, as `workerProcessesStillAlive` counts them. */
const ALIVE: readonly WorkerState[] = ['starting', 'idle', 'busy', 'retiring'];

export function normalizeMetricsOptions(options: MetricsOptions = {}): MetricsSettings {
  if (typeof options !== 'object' || options === null) invalid('options', 'an object', options);
  knownKeys(options, KNOWN);
  const { prefix = 'deadpool', labels = {} } = options;
  if (typeof prefix !== 'string' || !METRIC_NAME.test(prefix) || prefix.startsWith('__')) {
    invalid(
      'prefix',
      'a metric name prefix ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)',
      prefix,
    );
  }
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    invalid('labels', 'an object of label names to strings', labels);
  }
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(labels as Record<string, unknown>)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__') || OWN_LABELS.includes(name)) {
      invalid(
        'labels',
        `an object whose keys match [a-zA-Z_][a-zA-Z0-9_]*, do not start with __ and are none of ${OWN_LABELS.join(', ')}`,
        name,
      );
    }
    if (typeof value !== 'string') invalid(`labels.${name}`, 'a string', value);
    pairs.push([name, value]);
  }
  return { prefix, labels: pairs };
}

/** What the metrics are read from. */
export interface MetricsSource {
  stats: Stats;
  tasks: TaskMetrics;
  /** Workers by state now. */
  workers: Readonly<Record<WorkerState, number>>;
  /** Tasks waiting for a worker now. */
  backlog: number;
  /** `maxBacklog`: Infinity when the backlog is unbounded. */
  backlogLimit: number;
}

export function renderMetrics(source: MetricsSource, settings: MetricsSettings): string {
  const { stats, tasks, workers, backlog, backlogLimit } = source;
  const p = settings.prefix;
  const out = new Exposition(settings.labels);

  out
    .family(`${p}_tasks_received_total`, 'counter', 'Tasks accepted by submit and map.')
    .sample(`${p}_tasks_received_total`, [], stats.received);

  out.family(
    `${p}_tasks_total`,
    'counter',
    `Tasks settled, by name and outcome (completed, failed, cancelled); each task counts once. A timed-out task counts as failed here and also in ${p}_tasks_timed_out_total.`,
  );
  for (const [name, m] of tasks.entries()) {
    out.sample(
      `${p}_tasks_total`,
      [
        ['name', name],
        ['outcome', 'completed'],
      ],
      m.completed,
    );
    out.sample(
      `${p}_tasks_total`,
      [
        ['name', name],
        ['outcome', 'failed'],
      ],
      m.failed,
    );
    out.sample(
      `${p}_tasks_total`,
      [
        ['name', name],
        ['outcome', 'cancelled'],
      ],
      m.cancelled,
    );
  }

  out
    .family(
      `${p}_tasks_timed_out_total`,
      'counter',
      `Tasks that ran past their timeout and were killed, or waited past their queueTimeout; each also counts in ${p}_tasks_total{outcome="failed"}.`,
    )
    .sample(`${p}_tasks_timed_out_total`, [], stats.timedOut);

  out
    .family(`${p}_workers_created_total`, 'counter', 'Worker processes spawned.')
    .sample(`${p}_workers_created_total`, [], stats.created);

  out.family(`${p}_worker_exits_total`, 'counter', 'Worker processes that exited, by reason.');
  for (const [reason, n] of Object.entries(stats.exits)) {
    out.sample(`${p}_worker_exits_total`, [['reason', reason]], n);
  }

  out.family(`${p}_workers`, 'gauge', 'Worker processes alive now, by state.');
  for (const state of ALIVE) out.sample(`${p}_workers`, [['state', state]], workers[state]);

  out
    .family(`${p}_workers_busy_max`, 'gauge', 'The most workers busy at once so far.')
    .sample(`${p}_workers_busy_max`, [], stats.maxBusy);

  out
    .family(`${p}_backlog_tasks`, 'gauge', 'Tasks waiting for a worker now.')
    .sample(`${p}_backlog_tasks`, [], backlog);

  out.family(
    `${p}_task_cpu_seconds_total`,
    'counter',
    'CPU seconds used by settled tasks, by task name: with cgroups, every process a task started counts.',
  );
  for (const [name, m] of tasks.entries()) {
    out.sample(`${p}_task_cpu_seconds_total`, [['name', name]], m.cpuSeconds);
  }

  // Only a bounded backlog has a limit to alert on; an unbounded one has no series
  // (a ratio against it then has no result, rather than a +Inf to plot).
  if (Number.isFinite(backlogLimit)) {
    out
      .family(
        `${p}_backlog_limit`,
        'gauge',
        `maxBacklog: submit refuses a task while this many wait (${p}_backlog_tasks); absent when unbounded.`,
      )
      .sample(`${p}_backlog_limit`, [], backlogLimit);
  }

  histograms(
    out,
    `${p}_task_queue_wait_seconds`,
    'Seconds from submit to the hand-off to a worker, by task name.',
    tasks,
    (m) => m.queueWait,
  );
  histograms(
    out,
    `${p}_task_run_seconds`,
    'Seconds from the hand-off to a worker to settling, by task name.',
    tasks,
    (m) => m.runTime,
  );
  return out.toString();
}

function histograms(
  out: Exposition,
  name: string,
  help: string,
  tasks: TaskMetrics,
  pick: (metrics: NameMetrics) => Histogram,
): void {
  out.family(name, 'histogram', help);
  for (const [task, metrics] of tasks.entries()) {
    const h = pick(metrics);
    out.histogram(name, [['name', task]], BUCKETS, h.cumulative(), h.sum);
  }
}
