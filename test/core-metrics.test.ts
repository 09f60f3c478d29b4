/**
 * pool.metrics() (docs/observability.md "Metrics"): the figures agree with
 * getStatistics(), labels and prefix reach every series, and the output of a
 * pool that has seen every outcome passes `promtool check metrics`.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { mergeMetrics, type Deadpool } from '../dist/index.js';
import * as tasks from './fixtures/core/tasks.mjs';
import { runaway } from './fixtures/faults/memory.mjs';
import { gate, killChild, makePool, rejection, started, waitFor } from './helpers/index.js';

const MB = 1_000_000;

/** Every sample of an exposition: `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/**
 * Run `promtool check metrics` on `text`: it must exit 0 and say nothing.
 * A missing promtool fails the test (on CI, .ci/run installs it): a skipped
 * check would leave the format unproven while the suite looks green.
 */
function expectPromtoolPasses(text: string): void {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    expect.fail(
      process.env.CI === 'true'
        ? 'promtool is missing on CI: .ci/run should have installed the Debian package `prometheus`'
        : 'PROMTOOL IS NOT INSTALLED: the metrics output was NOT checked. Install it ' +
            '(Debian/Ubuntu: `apt-get install prometheus`; elsewhere: the Prometheus release ' +
            'archive, which ships promtool) and run this test again.',
    );
  }
  expect(run.error).toBeUndefined();
  expect({ status: run.status, output: `${run.stdout}${run.stderr}`, text }).toEqual({
    status: 0,
    output: '',
    text,
  });
}

/** Drive `pool` through every outcome: completed, thrown, timed out, cancelled, killed, crashed, memory. */
async function everyOutcome(pool: Deadpool): Promise<void> {
  await pool.ready();
  expect(await pool.submit(tasks.add, [1, 2], { name: 'add' })).toBe(3);
  expect(await pool.submit(tasks.square, [3])).toBe(9); // unnamed
  const squares: number[] = [];
  for await (const n of pool.map(tasks.square, [1, 2, 3, 4])) squares.push(n);
  expect(squares).toEqual([1, 4, 9, 16]);
  await rejection(pool.submit(tasks.fail, ['thrown'], { name: 'fail' }));
  await rejection(pool.submit(tasks.forever, [], { name: 'spin', timeout: 300 }));
  const aborted = AbortSignal.abort();
  await rejection(pool.submit(tasks.add, [1, 1], { name: 'say "hi"\n', signal: aborted }));
  const killed = pool.submit(tasks.forever, [], { name: 'killed' });
  await started(killed);
  killed.cancelAndKill();
  await rejection(killed);
  const victim = pool.submit(tasks.forever, [], { name: 'victim' });
  expect(killChild(await started(victim))).toBe(true);
  await rejection(victim);
  await rejection(pool.submit(runaway, [10, 3_000], { name: 'runaway' }));
  // Exits are counted when reaped, a little after the futures settle.
  await waitFor(
    () => {
      const exits = pool.getStatistics().workerExits;
      return exits.timeout >= 1 && exits.killed >= 1 && exits.crashed >= 1;
    },
    { what: 'the timeout, killed and crashed exits counted' },
  );
}

describe('pool.metrics()', () => {
  test('the counters, gauges and histogram counts agree with getStatistics()', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    await pool.ready();
    await pool.submit(tasks.add, [1, 2], { name: 'add' });
    await pool.submit(tasks.add, [3, 4], { name: 'add' });
    await rejection(pool.submit(tasks.fail, ['no'], { name: 'fail' }));
    await rejection(pool.submit(tasks.add, [1, 1], { signal: AbortSignal.abort() }));
    const stats = pool.getStatistics();
    const m = samples(pool.metrics());
    expect(m.get('deadpool_tasks_received_total')).toBe(stats.tasksReceived);
    expect(m.get('deadpool_tasks_total{name="add",outcome="completed"}')).toBe(2);
    expect(m.get('deadpool_tasks_total{name="fail",outcome="failed"}')).toBe(1);
    expect(m.get('deadpool_tasks_total{name="unnamed",outcome="cancelled"}')).toBe(1);
    const sum = (outcome: string): number =>
      [...m].filter(([k]) => k.includes(`outcome="${outcome}"`)).reduce((a, [, v]) => a + v, 0);
    expect(sum('completed')).toBe(stats.tasksCompleted);
    expect(sum('failed')).toBe(stats.tasksFailed);
    expect(sum('cancelled')).toBe(stats.tasksCancelled);
    expect(m.get('deadpool_workers_created_total')).toBe(stats.workerProcessesCreated);
    expect(m.get('deadpool_workers{state="idle"}')).toBe(stats.workerProcessesIdle);
    expect(m.get('deadpool_workers{state="busy"}')).toBe(0);
    expect(m.get('deadpool_backlog_tasks')).toBe(0);
    // The tasks that reached a worker are in the histograms; the cancelled one is not.
    expect(m.get('deadpool_task_run_seconds_count{name="add"}')).toBe(2);
    expect(m.get('deadpool_task_queue_wait_seconds_count{name="fail"}')).toBe(1);
    expect(m.get('deadpool_task_run_seconds_count{name="unnamed"}')).toBe(0);
    expect(m.get('deadpool_task_run_seconds_bucket{name="add",le="+Inf"}')).toBe(2);
    for (const reason of Object.keys(stats.workerExits)) {
      expect(m.has(`deadpool_worker_exits_total{reason="${reason}"}`), reason).toBe(true);
    }
  });

  test('a busy worker and a waiting task show in the gauges', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    await pool.ready();
    const running = pool.submit(tasks.forever, []);
    await started(running);
    const waiting = pool.submit(tasks.add, [1, 1]);
    const m = samples(pool.metrics());
    expect(m.get('deadpool_workers{state="busy"}')).toBe(1);
    expect(m.get('deadpool_workers{state="idle"}')).toBe(0);
    expect(m.get('deadpool_backlog_tasks')).toBe(1);
    waiting.cancel();
    running.cancelAndKill();
    await rejection(running);
  });

  test('the first 64 names submitted keep their own series, though later names settle first', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    await pool.ready();
    const names = Array.from({ length: 200 }, (_, i) => `task-${i}`);
    // Both workers hold a task named task-0 until the gate opens, so the
    // 1,000 tasks below wait; the later a task is submitted, the sooner it
    // runs (lower priority runs first), so the last names settle first.
    const open = gate();
    const held = [0, 1].map(() => pool.submit(tasks.block, [open.path, 0], { name: 'task-0' }));
    await Promise.all(held.map(started));
    const futures = Array.from({ length: 1_000 }, (_, i) =>
      pool.submit(tasks.add, [i, 0], { name: `task-${Math.floor(i / 5)}`, priority: 1_000 - i }),
    );
    open.open();
    await Promise.all([...held, ...futures]);
    const m = samples(pool.metrics());
    const own = names.filter((name) =>
      m.has(`deadpool_tasks_total{name="${name}",outcome="completed"}`),
    );
    expect(own).toEqual(names.slice(0, 64));
    expect(m.get('deadpool_tasks_total{name="other",outcome="completed"}')).toBe((200 - 64) * 5);
    expect(m.get('deadpool_tasks_total{name="task-0",outcome="completed"}')).toBe(2 + 5);
    expect(m.has('deadpool_tasks_total{name="unnamed",outcome="completed"}')).toBe(false);
  });

  test('deadpool_backlog_limit is maxBacklog, and absent when the backlog is unbounded', async () => {
    const bounded = makePool({ maxWorkers: 1, maxBacklog: 7 }).pool;
    expect(samples(bounded.metrics()).get('deadpool_backlog_limit')).toBe(7);
    expectPromtoolPasses(bounded.metrics());
    const unbounded = makePool({ maxWorkers: 1 }).pool;
    expect(unbounded.metrics()).not.toContain('backlog_limit');
  });

  test('prefix and labels reach every series', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    await pool.submit(tasks.add, [1, 2], { name: 'add' });
    const text = pool.metrics({ prefix: 'app_pool', labels: { pool: 'images', zone: 'a\\b' } });
    const lines = text.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(50);
    for (const line of lines) {
      if (line.startsWith('# ')) expect(line).toMatch(/^# (HELP|TYPE) app_pool_/);
      else expect(line).toMatch(/^app_pool_[a-z_]+\{pool="images",zone="a\\\\b"[,}]/);
    }
  });

  test('bad options throw a TypeError naming the option', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.metrics({ prefix: 'a-b' })).toThrow(/^Expected `prefix` to be/);
    expect(() => pool.metrics({ labels: { outcome: 'x' } })).toThrow(TypeError);
    expect(() => pool.metrics({ labels: { ok: 1 as unknown as string } })).toThrow(
      'Expected `labels.ok` to be a string, got `1` (number)',
    );
  });

  test('promtool check metrics passes on a pool that has seen every outcome, also after shutdown', async () => {
    const { pool } = makePool({
      maxWorkers: 2,
      memoryLimitBytes: 200 * MB,
      memorySampleInterval: 20,
    });
    await everyOutcome(pool);
    const text = pool.metrics({ labels: { pool: 'every "outcome"\\\n' } });
    const m = samples(text);
    for (const name of ['add', 'fail', 'spin', 'killed', 'victim', 'runaway', 'unnamed']) {
      expect(
        m.has(`deadpool_task_run_seconds_count{pool="every \\"outcome\\"\\\\\\n",name="${name}"}`),
        name,
      ).toBe(true);
    }
    expect(text).toContain('name="say \\"hi\\"\\n",outcome="cancelled"} 1');
    expectPromtoolPasses(text);
    await pool.shutdown();
    expectPromtoolPasses(pool.metrics({ prefix: 'after_shutdown' }));
  });

  test('promtool check metrics passes on two pools merged with mergeMetrics', async () => {
    const a = makePool({ maxWorkers: 1 }).pool;
    const b = makePool({ maxWorkers: 1 }).pool;
    await a.submit(tasks.add, [1, 2], { name: 'add' });
    await rejection(b.submit(tasks.fail, ['no'], { name: 'fail' }));
    const text = mergeMetrics(
      a.metrics({ labels: { pool: 'a' } }),
      b.metrics({ labels: { pool: 'b' } }),
    );
    expect(samples(text).get('deadpool_tasks_received_total{pool="b"}')).toBe(1);
    expectPromtoolPasses(text);
  });
});
