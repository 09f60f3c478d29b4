/**
 * The backlog (docs/api.md "submit", "Pool methods"): priorities, maxBacklog and backlogBelow().
 */
import { describe, expect, test } from 'vitest';
import { BacklogFullError } from '../dist/index.js';
import * as tasks from './fixtures/core/tasks.mjs';
import { makePool, gate, started, turn, within } from './helpers/index.js';

describe('priority', () => {
  test('behind a blocker, priorities 5,1,5,0,1,5,0 run as 0,0,1,1,5,5,5, in submission order within a priority', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const g = gate();
    const blocker = pool.submit(tasks.block, [g.path]);
    await started(blocker);
    const priorities = [5, 1, 5, 0, 1, 5, 0];
    const order: number[] = [];
    const futures = priorities.map((priority, index) => {
      const future = pool.submit(tasks.echo, [index], { priority });
      future.addDoneCallback(() => order.push(index));
      return future;
    });
    g.open();
    await Promise.all([blocker, ...futures]);
    expect(order.map((index) => priorities[index])).toEqual([0, 0, 1, 1, 5, 5, 5]);
    expect(order).toEqual([3, 6, 1, 4, 0, 2, 5]);
  });

  test('tasks of equal priority run in submission order', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const g = gate();
    const blocker = pool.submit(tasks.block, [g.path]);
    await started(blocker);
    const order: number[] = [];
    const futures = [0, 1, 2, 3, 4].map((i) => {
      const future = pool.submit(tasks.echo, [i]);
      future.addDoneCallback(() => order.push(i));
      return future;
    });
    g.open();
    await Promise.all(futures);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  test.each([-1, 1.5, Number.NaN])('a priority of %s throws RangeError at submit', (priority) => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.submit(tasks.add, [1, 2], { priority })).toThrow(RangeError);
  });
});

describe('maxBacklog', () => {
  test('submit past maxBacklog waiting tasks throws BacklogFullError; running tasks do not count', async () => {
    const { pool } = makePool({ maxWorkers: 1, maxBacklog: 2 });
    const g = gate();
    const blocker = pool.submit(tasks.block, [g.path]);
    await started(blocker);
    const waiting = [pool.submit(tasks.add, [1, 1]), pool.submit(tasks.add, [2, 2])];
    let error: unknown;
    try {
      pool.submit(tasks.add, [3, 3]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BacklogFullError);
    expect((error as BacklogFullError).code).toBe('ERR_DEADPOOL_BACKLOG_FULL');
    g.open();
    await blocker;
    expect(await Promise.all(waiting)).toEqual([2, 4]);
    // With room again, submit works.
    expect(await pool.submit(tasks.add, [3, 3])).toBe(6);
  });

  test('backlogBelow(n) resolves once fewer than n tasks wait', async () => {
    const { pool } = makePool({ maxWorkers: 1, maxBacklog: 3 });
    const g = gate();
    const blocker = pool.submit(tasks.block, [g.path]);
    await started(blocker);
    const waiting = [1, 2, 3].map((n) => pool.submit(tasks.add, [n, 0]));
    let below3 = false;
    const room = pool.backlogBelow().then(() => {
      below3 = true;
    });
    let below1 = false;
    const empty = pool.backlogBelow(1).then(() => {
      below1 = true;
    });
    // Only a task leaving could resolve them, and none can while the blocker runs.
    await turn();
    expect(pool.getStatistics().backlogSize).toBe(3);
    expect(below3).toBe(false);
    expect(below1).toBe(false);
    g.open();
    await within(room, 10_000, 'backlogBelow()');
    await within(empty, 10_000, 'backlogBelow(1)');
    expect(below3 && below1).toBe(true);
    await Promise.all([blocker, ...waiting]);
  });

  test('backlogBelow(n) resolves at once when the backlog is already short', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    await within(pool.backlogBelow(1), 1_000, 'backlogBelow(1) on an empty backlog');
  });

  test('maxBacklog 0 refuses every submit, even with the worker idle', async () => {
    const { pool } = makePool({ maxWorkers: 1, maxBacklog: 0 });
    await pool.ready();
    expect(() => pool.submit(tasks.add, [1, 1])).toThrow(BacklogFullError);
    expect(pool.getStatistics()).toMatchObject({ tasksReceived: 0, workerProcessesIdle: 1 });
  });

  test('backlogBelow() without n on a pool with maxBacklog 0 throws, naming maxBacklog, not n', () => {
    const { pool } = makePool({ maxWorkers: 1, maxBacklog: 0 });
    let error: unknown;
    try {
      void pool.backlogBelow();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toMatch(/`maxBacklog` is 0: it refuses every submit/);
    expect((error as Error).message).not.toMatch(/Expected `n`/);
    // An explicit n still waits on the backlog's size.
    return within(pool.backlogBelow(1), 1_000, 'backlogBelow(1) on an empty backlog');
  });

  test('backlogBelow(n) still refuses an n below 1', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.backlogBelow(0)).toThrow(
      /Expected `n` to be an integer >= 1, got `0` \(number\)/,
    );
  });
});
