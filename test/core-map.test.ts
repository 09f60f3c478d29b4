/**
 * map() (docs/api.md "Pool methods"): input order, sync and async iterables, laziness, failures,
 * breaking out early.
 */
import { describe, expect, test } from 'vitest';
import { CancelledError } from '../dist/index.js';
import * as tasks from './fixtures/core/tasks.mjs';
import { isAlive, makePool, rejection, turn, within } from './helpers/index.js';

describe('map', () => {
  test('map over an array yields the results in input order', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const results: number[] = [];
    for await (const value of pool.map(tasks.square, [1, 2, 3, 4, 5, 6, 7, 8])) results.push(value);
    expect(results).toEqual([1, 4, 9, 16, 25, 36, 49, 64]);
  });

  test('map keeps input order when later items finish first', async () => {
    const { pool } = makePool({ maxWorkers: 3 });
    const items: Array<[number, unknown]> = [
      [300, 'a'],
      [10, 'b'],
      [150, 'c'],
      [0, 'd'],
    ];
    const results: unknown[] = [];
    for await (const value of pool.map(tasks.delayed, items)) results.push(value);
    expect(results).toEqual(['a', 'b', 'c', 'd']);
  });

  test('map accepts a sync generator', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    function* numbers() {
      for (let i = 1; i <= 5; i++) yield i;
    }
    const results: number[] = [];
    for await (const value of pool.map(tasks.square, numbers())) results.push(value);
    expect(results).toEqual([1, 4, 9, 16, 25]);
  });

  test('map accepts an async iterable', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    async function* numbers() {
      for (let i = 1; i <= 5; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        yield i;
      }
    }
    const results: number[] = [];
    for await (const value of pool.map(tasks.square, numbers())) results.push(value);
    expect(results).toEqual([1, 4, 9, 16, 25]);
  });

  test('map over an empty iterable yields nothing', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const results: number[] = [];
    for await (const value of pool.map(tasks.square, [])) results.push(value);
    expect(results).toEqual([]);
  });

  test('the first failure throws from the iterator at its position', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const seen: unknown[] = [];
    const failing = (n: number) => {
      if (n === 3) throw new Error(`item ${n} failed`);
      return n * 10;
    };
    const run = async () => {
      for await (const value of pool.map(failing, [1, 2, 3, 4, 5])) seen.push(value);
    };
    await expect(run()).rejects.toThrow('item 3 failed');
    expect(seen).toEqual([10, 20]);
  });

  test('map counts its tasks as received', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    for await (const value of pool.map(tasks.square, [1, 2, 3]))
      expect(typeof value).toBe('number');
    expect(pool.getStatistics()).toMatchObject({ tasksReceived: 3, tasksLaunched: 3 });
  });

  test('breaking out of map over an endless generator ends the loop, the generator is not drained, and the pool shuts down cleanly', async () => {
    const { pool, pids } = makePool({ maxWorkers: 2 });
    let pulled = 0;
    function* endless() {
      for (let i = 0; ; i++) {
        pulled++;
        yield i;
      }
    }
    const results: number[] = [];
    for await (const value of pool.map(tasks.square, endless())) {
      results.push(value);
      if (results.length === 5) break;
    }
    expect(results).toEqual([0, 1, 4, 9, 16]);
    // Read lazily: a bounded number of items beyond the five consumed.
    const afterBreak = pulled;
    expect(afterBreak).toBeGreaterThanOrEqual(5);
    expect(afterBreak).toBeLessThan(1_000);
    await turn();
    expect(pulled).toBe(afterBreak);
    await within(pool.shutdown(), 10_000, 'shutdown after breaking out of map');
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    expect(pulled).toBe(afterBreak);
  });

  test('map with a timeout fails the item that runs too long', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    // Warm the worker: the first import of the task module counts toward a deadline.
    await pool.submit(tasks.delayed, [[0, 'warm']]);
    const items: Array<[number, unknown]> = [
      [0, 'quick'],
      [20_000, 'slow'],
    ];
    const seen: unknown[] = [];
    const run = async () => {
      for await (const value of pool.map(tasks.delayed, items, { timeout: 1_000 }))
        seen.push(value);
    };
    await expect(run()).rejects.toMatchObject({ code: 'ERR_DEADPOOL_TIMEOUT' });
    expect(seen).toEqual(['quick']);
  });

  test('aborting the map signal cancels the remaining items and the iterator throws CancelledError', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const controller = new AbortController();
    const reason = new Error('enough');
    const seen: number[] = [];
    const run = async () => {
      for await (const value of pool.map(tasks.square, [1, 2, 3, 4, 5, 6, 7, 8], {
        signal: controller.signal,
      })) {
        seen.push(value);
        if (seen.length === 2) controller.abort(reason);
      }
    };
    const error = await rejection(run());
    expect(error).toBeInstanceOf(CancelledError);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.length).toBeLessThan(8);
    expect(seen).toEqual([1, 4, 9, 16, 25, 36, 49].slice(0, seen.length));
  });
});
