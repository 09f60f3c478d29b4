/**
 * How tasks meet workers: one at a time per worker, maxTasksPerChild, a pool
 * inside a worker, and process-tree hygiene.
 */
import { describe, expect, test } from 'vitest';
import * as nested from './fixtures/core/nested.mjs';
import * as tasks from './fixtures/core/tasks.mjs';
import { isAlive, makePool, gate, nextEvent, record, started, waitFor } from './helpers/index.js';

describe('one task at a time', () => {
  test('two tasks on a single worker run one after the other, never overlapping', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const [a, b] = await Promise.all([
      pool.submit(tasks.span, [150]),
      pool.submit(tasks.span, [150]),
    ]);
    expect(a.pid).toBe(b.pid);
    const [first, second] = a.start <= b.start ? [a, b] : [b, a];
    expect(first.end).toBeLessThanOrEqual(second.start);
    expect(first.end - first.start).toBeGreaterThanOrEqual(140);
  });

  test('tasks on several workers do run at the same time', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const g = gate();
    const a = pool.submit(tasks.block, [g.path, 'a']);
    const b = pool.submit(tasks.block, [g.path, 'b']);
    // Both are running at once: neither can end before the gate opens.
    const [pidA, pidB] = await Promise.all([started(a), started(b)]);
    expect(pidA).not.toBe(pidB);
    expect(a.running() && b.running()).toBe(true);
    g.open();
    expect(await Promise.all([a, b])).toEqual(['a', 'b']);
  });
});

describe('maxTasksPerChild', () => {
  test('with maxTasksPerChild 100, ten tasks on one worker all run in the same process', async () => {
    const { pool } = makePool({ maxWorkers: 1, maxTasksPerChild: 100 });
    const seen = new Set<number>();
    for (let i = 0; i < 10; i++) seen.add(await pool.submit(tasks.pid));
    expect(seen.size).toBe(1);
  });

  test('with maxTasksPerChild 1, ten tasks on one worker run in ten distinct processes', async () => {
    const { pool } = makePool({ maxWorkers: 1, maxTasksPerChild: 1 });
    const exits = record(pool, 'workerExit');
    const seen = new Set<number>();
    for (let i = 0; i < 10; i++) seen.add(await pool.submit(tasks.pid));
    expect(seen.size).toBe(10);
    // A retirement's exit may be reported after the next task's result: wait for all ten.
    const retired = await waitFor(
      () => {
        const mine = exits.filter((e) => seen.has(e.pid));
        return mine.length === 10 ? mine : undefined;
      },
      { what: 'the ten workers to exit' },
    );
    for (const exit of retired) expect(exit.reason).toBe('maxTasks');
  });

  test('with maxTasksPerChild 1, tasks submitted all at once also each get a fresh process', async () => {
    const { pool } = makePool({ maxWorkers: 2, maxTasksPerChild: 1 });
    const pids = await Promise.all(Array.from({ length: 6 }, () => pool.submit(tasks.pid)));
    expect(new Set(pids).size).toBe(6);
  });

  test('a worker retired after maxTasksPerChild exits with reason maxTasks and exit code 0', async () => {
    const { pool } = makePool({ maxWorkers: 1, maxTasksPerChild: 1 });
    const future = pool.submit(tasks.pid);
    const pid = await started(future);
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === pid);
    await future;
    expect(await exit).toMatchObject({ pid, reason: 'maxTasks', exitCode: 0, signal: null });
    expect(isAlive(pid)).toBe(false);
  });
});

describe('maxWorkerMemoryBytes', () => {
  test('a worker whose RSS is at or above maxWorkerMemoryBytes after a task is retired with reason memory', async () => {
    // Every Node.js process is above 1 MB, so every worker retires after each task.
    const { pool } = makePool({ maxWorkers: 1, maxWorkerMemoryBytes: 1_000_000 });
    const exits = record(pool, 'workerExit');
    const seen = new Set<number>();
    for (let i = 0; i < 3; i++) seen.add(await pool.submit(tasks.pid));
    expect(seen.size).toBe(3);
    // Each retirement is graceful (a finalize round trip, then the exit), so
    // an exit may be reported after the next task's result: wait for all three.
    const retired = await waitFor(
      () => {
        const mine = exits.filter((e) => seen.has(e.pid));
        return mine.length === 3 ? mine : undefined;
      },
      { what: 'the three workers to exit' },
    );
    for (const exit of retired) expect(exit.reason).toBe('memory');
  });

  test('a worker below maxWorkerMemoryBytes is kept', async () => {
    const { pool } = makePool({ maxWorkers: 1, maxWorkerMemoryBytes: 8 * 1024 ** 3 });
    const seen = new Set<number>();
    for (let i = 0; i < 3; i++) seen.add(await pool.submit(tasks.pid));
    expect(seen.size).toBe(1);
  });
});

describe('nested pools', () => {
  test('a task can run its own pool inside a worker and shut it down', async () => {
    const { pool, pids } = makePool({ maxWorkers: 1 });
    const result = await pool.submit(nested.nestedAdd, [20, 22]);
    expect(result.sum).toBe(42);
    expect(pids.has(result.outerPid)).toBe(true);
    expect(result.innerPid).not.toBe(result.outerPid);
    expect(pids.has(result.innerPid)).toBe(false);
    // The inner pool was shut down before the task returned.
    expect(isAlive(result.innerPid)).toBe(false);
    expect(isAlive(result.outerPid)).toBe(true);
  });
});
