/**
 * The Prometheus text format (docs/observability.md "Metrics"): escaping, number
 * formatting, histograms, the bound on task names, the options of
 * `metrics()`, and merging several pools' output.
 */
import { describe, expect, test } from 'vitest';
import {
  escapeHelp,
  escapeLabelValue,
  Exposition,
  formatValue,
  mergeMetrics,
} from '../src/parent/exposition.js';
import { BUCKETS, Histogram } from '../src/parent/histogram.js';
import { normalizeMetricsOptions, renderMetrics } from '../src/parent/metrics.js';
import { Stats } from '../src/parent/stats.js';
import { MAX_NAMES, OTHER, TaskMetrics, UNNAMED } from '../src/parent/task-metrics.js';

const NO_WORKERS = { starting: 0, idle: 0, busy: 0, retiring: 0, dying: 0, exited: 0 };

/** One line of the format: a comment, HELP/TYPE, or `name{labels} value`. */
const SAMPLE =
  /^[a-zA-Z_][a-zA-Z0-9_]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*",?)*\})? (\+Inf|-Inf|NaN|-?[0-9.]+(e[+-]?[0-9]+)?)$/;

function render(
  tasks = new TaskMetrics(),
  stats = new Stats(),
  options = {},
  backlogLimit = Infinity,
): string {
  return renderMetrics(
    { stats, tasks, workers: { ...NO_WORKERS, idle: 2, busy: 1 }, backlog: 5, backlogLimit },
    normalizeMetricsOptions(options),
  );
}

describe('escaping and numbers', () => {
  test.each([
    ['plain', 'plain'],
    ['a"b', 'a\\"b'],
    ['back\\slash', 'back\\\\slash'],
    ['two\nlines', 'two\\nlines'],
    ['\\"\n', '\\\\\\"\\n'],
    ['ünïcödé ✓', 'ünïcödé ✓'],
  ])('the label value %j is written as %j', (value, written) => {
    expect(escapeLabelValue(value)).toBe(written);
  });

  test('HELP text escapes backslash and line feed but not double quotes', () => {
    expect(escapeHelp('a\\b\n"c"')).toBe('a\\\\b\\n"c"');
  });

  test.each([
    [0, '0'],
    [42, '42'],
    [0.25, '0.25'],
    [1e-7, '1e-7'],
    [1e21, '1e+21'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [NaN, 'NaN'],
  ])('the value %d is written as %s', (value, written) => {
    expect(formatValue(value)).toBe(written);
  });

  test('a sample puts the common labels first and escapes every value', () => {
    const text = new Exposition([['pool', 'a"b']])
      .family('x_total', 'counter', 'X.')
      .sample('x_total', [['name', 'n\n']], 3)
      .toString();
    expect(text).toBe(
      '# HELP x_total X.\n# TYPE x_total counter\nx_total{pool="a\\"b",name="n\\n"} 3\n',
    );
  });
});

describe('Histogram', () => {
  test('buckets are increasing, from 100 µs to 5 minutes', () => {
    expect(BUCKETS[0]).toBe(0.0001);
    expect(BUCKETS[BUCKETS.length - 1]).toBe(300);
    for (let i = 1; i < BUCKETS.length; i++) expect(BUCKETS[i]).toBeGreaterThan(BUCKETS[i - 1]!);
  });

  test('an observation counts in its bucket and every one above; a bound is inclusive', () => {
    const h = new Histogram();
    h.observe(0.00005); // below the first bound
    h.observe(0.001); // exactly on a bound
    h.observe(0.0011);
    h.observe(1_000); // above every bound: +Inf only
    const c = h.cumulative();
    expect(c).toHaveLength(BUCKETS.length + 1);
    expect(c[0]).toBe(1);
    expect(c[BUCKETS.indexOf(0.001)]).toBe(2);
    expect(c[BUCKETS.indexOf(0.0025)]).toBe(3);
    expect(c[BUCKETS.length - 1]).toBe(3);
    expect(c[BUCKETS.length]).toBe(4);
    expect(h.count).toBe(4);
    expect(h.sum).toBeCloseTo(1_000.00215, 9);
  });

  test('n observations at once count n times', () => {
    const h = new Histogram();
    h.observe(0.002, 256);
    expect(h.count).toBe(256);
    expect(h.sum).toBeCloseTo(0.512, 9);
    expect(h.cumulative()[BUCKETS.indexOf(0.0025)]).toBe(256);
  });
});

describe('TaskMetrics', () => {
  test('unnamed tasks and tasks named "" share the unnamed label', () => {
    const tasks = new TaskMetrics();
    tasks.record(undefined, 'completed', 1, 1);
    tasks.record('', 'failed', 1, 0);
    expect([...tasks.entries()].map(([name]) => name)).toEqual([UNNAMED]);
    expect(tasks.of(undefined)).toMatchObject({ completed: 1, failed: 1, cancelled: 0 });
  });

  test(`after ${MAX_NAMES} names the next ones fall under "other", and known names keep theirs`, () => {
    const tasks = new TaskMetrics();
    for (let i = 0; i < MAX_NAMES + 10; i++) tasks.record(`task-${i}`, 'completed', 1, 1);
    tasks.record('task-3', 'cancelled', 1, 1);
    const names = [...tasks.entries()].map(([name]) => name);
    expect(names).toHaveLength(MAX_NAMES + 1);
    expect(names.at(-1)).toBe(OTHER);
    expect(tasks.of(OTHER).completed).toBe(10);
    expect(tasks.of('task-3')).toMatchObject({ completed: 1, cancelled: 1 });
  });

  test('a batch counts each item, its failed items as failed, and splits its run time', () => {
    const tasks = new TaskMetrics();
    tasks.record('batch', 'completed', 4, 3, 2, 8);
    const m = tasks.of('batch');
    expect(m).toMatchObject({ completed: 3, failed: 1 });
    expect(m.queueWait.count).toBe(4);
    expect(m.queueWait.sum).toBeCloseTo(0.008, 9);
    expect(m.runTime.count).toBe(4);
    expect(m.runTime.sum).toBeCloseTo(0.008, 9);
    expect(m.runTime.cumulative()[BUCKETS.indexOf(0.0025)]).toBe(4);
  });

  test('a task that never reached a worker counts its outcome but no timing', () => {
    const tasks = new TaskMetrics();
    tasks.record('gone', 'cancelled', 1, 1);
    expect(tasks.of('gone').cancelled).toBe(1);
    expect(tasks.of('gone').queueWait.count).toBe(0);
  });
});

describe('normalizeMetricsOptions', () => {
  test('defaults: prefix deadpool, no labels', () => {
    expect(normalizeMetricsOptions()).toEqual({ prefix: 'deadpool', labels: [] });
  });

  test.each([
    [{ prefix: '' }, 'Expected `prefix` to be a metric name prefix'],
    [{ prefix: '1abc' }, 'got `1abc` (string)'],
    [{ prefix: 'a-b' }, 'Expected `prefix`'],
    [{ prefix: 'a:b' }, 'Expected `prefix`'],
    [{ prefix: '__x' }, 'Expected `prefix`'],
    [{ prefix: 7 }, 'got `7` (number)'],
    [{ labels: null }, 'Expected `labels` to be an object of label names to strings'],
    [{ labels: ['a'] }, 'Expected `labels` to be an object'],
    [{ labels: { '1a': 'x' } }, 'got `1a` (string)'],
    [{ labels: { 'a-b': 'x' } }, 'Expected `labels` to be an object whose keys match'],
    [{ labels: { __name__: 'x' } }, 'got `__name__` (string)'],
    [{ labels: { name: 'x' } }, 'got `name` (string)'],
    [{ labels: { le: 'x' } }, 'got `le` (string)'],
    [{ labels: { state: 'x' } }, 'got `state` (string)'],
    [{ labels: { pool: 1 } }, 'Expected `labels.pool` to be a string, got `1` (number)'],
    [{ label: {} }, 'Unknown option `label`'],
    ['deadpool', 'Expected `options` to be an object'],
  ])('%j is refused with a TypeError', (options, message) => {
    expect(() => normalizeMetricsOptions(options as never)).toThrow(TypeError);
    expect(() => normalizeMetricsOptions(options as never)).toThrow(message);
  });

  test('labels keep their order; values may hold any character', () => {
    expect(normalizeMetricsOptions({ prefix: 'app_pool', labels: { z: '"\n', a: '' } })).toEqual({
      prefix: 'app_pool',
      labels: [
        ['z', '"\n'],
        ['a', ''],
      ],
    });
  });
});

describe('renderMetrics', () => {
  test('every line is HELP, TYPE or a well-formed sample, and every family has both', () => {
    const tasks = new TaskMetrics();
    tasks.record('say "hi"\\\n', 'completed', 1, 1, 1, 2);
    const text = render(tasks, new Stats(), { labels: { pool: 'a\\"\nb' } });
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    const help = lines.filter((l) => l.startsWith('# HELP ')).map((l) => l.split(' ')[2]);
    const type = lines.filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
    expect(help).toEqual(type);
    expect(new Set(help).size).toBe(help.length);
    for (const line of lines.filter((l) => !l.startsWith('#'))) expect(line).toMatch(SAMPLE);
  });

  test('the timed-out counter says it counts queue timeouts too, as tasksTimedOut does (docs/api.md)', () => {
    const stats = new Stats();
    stats.timedOut = 2;
    const text = render(new TaskMetrics(), stats, {});
    expect(text).toMatch(/^# HELP deadpool_tasks_timed_out_total .*timeout.*queueTimeout/m);
    expect(text).toMatch(/^deadpool_tasks_timed_out_total 2$/m);
  });

  test('counters come from the statistics; every exit reason appears, zeros included', () => {
    const stats = new Stats();
    stats.received = 9;
    stats.timedOut = 2;
    stats.created = 4;
    stats.maxBusy = 3;
    stats.exits.crashed = 1;
    const text = render(new TaskMetrics(), stats, { prefix: 'p' });
    expect(text).toContain('\np_tasks_received_total 9\n');
    expect(text).toContain('\np_tasks_timed_out_total 2\n');
    expect(text).toContain('\np_workers_created_total 4\n');
    expect(text).toContain('\np_workers_busy_max 3\n');
    expect(text).toContain('\np_backlog_tasks 5\n');
    expect(text).toContain('\np_workers{state="idle"} 2\n');
    expect(text).toContain('\np_workers{state="busy"} 1\n');
    expect(text).not.toContain('state="dying"');
    for (const reason of Object.keys(stats.exits)) {
      expect(text).toContain(
        `\np_worker_exits_total{reason="${reason}"} ${stats.exits[reason as 'crashed']}\n`,
      );
    }
  });

  test('the backlog limit is a gauge when maxBacklog is finite, and absent when unbounded', () => {
    expect(render(new TaskMetrics(), new Stats(), { prefix: 'p' }, 64)).toContain(
      '\n# TYPE p_backlog_limit gauge\np_backlog_limit 64\n',
    );
    expect(render(new TaskMetrics(), new Stats(), { prefix: 'p' }, 0)).toContain(
      '\np_backlog_limit 0\n',
    );
    expect(render(new TaskMetrics(), new Stats(), { prefix: 'p' })).not.toContain('backlog_limit');
  });

  test('a histogram per name: cumulative buckets up to +Inf, _sum and _count, in seconds', () => {
    const tasks = new TaskMetrics();
    tasks.record('a', 'completed', 1, 1, 0.05, 3); // 50 µs wait, 3 ms run
    tasks.record('a', 'failed', 1, 0, 20, 7_000);
    const text = render(tasks, new Stats(), { labels: { pool: 'x' } });
    const run = (le: string): string | undefined =>
      new RegExp(
        `^deadpool_task_run_seconds_bucket\\{pool="x",name="a",le="${le}"\\} (\\S+)$`,
        'm',
      ).exec(text)?.[1];
    expect(run('0.0025')).toBe('0');
    expect(run('0.005')).toBe('1');
    expect(run('5')).toBe('1');
    expect(run('10')).toBe('2');
    expect(run('\\+Inf')).toBe('2');
    expect(text).toContain('\ndeadpool_task_run_seconds_count{pool="x",name="a"} 2\n');
    const sum = /\ndeadpool_task_run_seconds_sum\{pool="x",name="a"\} (\S+)\n/.exec(text)?.[1];
    expect(Number(sum)).toBeCloseTo(7.003, 9);
    expect(text).toContain(
      '\ndeadpool_task_queue_wait_seconds_bucket{pool="x",name="a",le="0.0001"} 1\n',
    );
    expect(text).toContain('\ndeadpool_tasks_total{pool="x",name="a",outcome="failed"} 1\n');
  });
});

describe('mergeMetrics', () => {
  test("two pools' outputs become one exposition with one HELP and TYPE per family", () => {
    const a = new TaskMetrics();
    a.record('resize', 'completed', 1, 1, 1, 1);
    const merged = mergeMetrics(
      render(a, new Stats(), { labels: { pool: 'a' } }),
      render(new TaskMetrics(), new Stats(), { labels: { pool: 'b' } }),
    );
    const lines = merged.trimEnd().split('\n');
    const help = lines.filter((l) => l.startsWith('# HELP ')).map((l) => l.split(' ')[2]);
    expect(new Set(help).size).toBe(help.length);
    expect(lines.filter((l) => l.startsWith('deadpool_tasks_received_total'))).toEqual([
      'deadpool_tasks_received_total{pool="a"} 0',
      'deadpool_tasks_received_total{pool="b"} 0',
    ]);
    // Every sample follows its own family's TYPE line.
    let family = '';
    for (const line of lines) {
      if (line.startsWith('# TYPE ')) family = line.split(' ')[2]!;
      else if (!line.startsWith('#')) expect(line.startsWith(family)).toBe(true);
    }
  });

  test('a family with two types is refused', () => {
    const counter = '# HELP x X.\n# TYPE x counter\nx 1\n';
    const gauge = '# HELP x X.\n# TYPE x gauge\nx{a="b"} 1\n';
    expect(() => mergeMetrics(counter, gauge)).toThrow(
      'metric x is a counter in one text and a gauge',
    );
  });
});
