/**
 * map() (docs/api.md "Pool methods"): input order, sync and async iterables, laziness, failures,
 * breaking out early, waiting for room under maxBacklog.
 */
import { describe, expect, test } from 'vitest';
import { BacklogFullError, CancelledError } from '../dist/index.js';
import * as tasks from './fixtures/core/tasks.mjs';
import {
  gate,
  isAlive,
  makePool,
  rejection,
  started,
  turn,
  waitFor,
  within,
} from './helpers/index.js';

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

  test.each([
    [5, '`5` (number)'],
    [true, '`true` (boolean)'],
    [null, '`null` (null)'],
    [{}, '`[object Object]` (object)'],
  ])('map refuses %o as its input with a TypeError naming `iterable`', (input, shown) => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.map(tasks.echo, input as never)).toThrow(
      new TypeError(`Expected \`iterable\` to be an iterable or async iterable, got ${shown}`),
    );
  });

  test('map over a string, an iterable like any other, takes one character per item', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const results: string[] = [];
    for await (const value of pool.map(tasks.echo, 'abc')) results.push(value as string);
    expect(results).toEqual(['a', 'b', 'c']);
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

describe('map under maxBacklog', () => {
  async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
    const values: T[] = [];
    for await (const value of iterable) values.push(value);
    return values;
  }

  /** One worker held by a task until `door.open()`, and the backlog of 2 full. */
  async function fullPool() {
    const { pool } = makePool({ maxWorkers: 1, maxBacklog: 2 });
    const door = gate();
    const blocker = pool.submit(tasks.block, [door.path, 'done']);
    await started(blocker);
    const others = [pool.submit(tasks.add, [1, 1]), pool.submit(tasks.add, [2, 2])];
    expect(() => pool.submit(tasks.add, [3, 3])).toThrow(BacklogFullError);
    return { pool, door, settled: () => Promise.all([blocker, ...others]) };
  }

  test('a map whose window is larger than maxBacklog and the workers waits for room and yields every result', async () => {
    // Up to 2 × 1 + 2 = 4 tasks in flight, more than 2 waiting and 1 running.
    const { pool } = makePool({ maxWorkers: 1, maxBacklog: 2 });
    const input = [1, 2, 3, 4, 5, 6, 7, 8];
    expect(await collect(pool.map(tasks.square, input))).toEqual(input.map((x) => x * x));
    const unordered = await collect(pool.map(tasks.square, input, { ordered: false }));
    expect(unordered.sort((a, b) => a - b)).toEqual(input.map((x) => x * x));
    expect(pool.getStatistics()).toMatchObject({ tasksReceived: 16, tasksCompleted: 16 });
  });

  test('a map on a pool with maxBacklog 0 throws BacklogFullError, as submit does, rather than wait', async () => {
    const { pool } = makePool({ maxWorkers: 1, maxBacklog: 0 });
    const error = await within(
      rejection(collect(pool.map(tasks.square, [1, 2]))),
      5_000,
      'the map failing',
    );
    expect(error).toBeInstanceOf(BacklogFullError);
    expect(pool.getStatistics().tasksReceived).toBe(0);
  });

  test('a map started while other tasks fill the backlog submits nothing until there is room', async () => {
    const { pool, door, settled } = await fullPool();
    const run = collect(pool.map(tasks.square, [1, 2, 3, 4]));
    await turn();
    expect(pool.getStatistics().tasksReceived).toBe(3);
    door.open();
    expect(await run).toEqual([1, 4, 9, 16]);
    expect(await settled()).toEqual(['done', 2, 4]);
  });

  test('aborting a map that waits for room ends it with CancelledError and closes its input', async () => {
    const { pool, door, settled } = await fullPool();
    const controller = new AbortController();
    let closed = false;
    function* input() {
      try {
        for (let i = 1; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    const run = rejection(collect(pool.map(tasks.square, input(), { signal: controller.signal })));
    await turn();
    controller.abort(new Error('enough'));
    // The worker is still held: the map ends without any room coming.
    const error = await within(run, 5_000, 'the map ending at its abort');
    expect(error).toBeInstanceOf(CancelledError);
    expect(closed).toBe(true);
    door.open();
    expect(await settled()).toEqual(['done', 2, 4]);
    expect(pool.getStatistics()).toMatchObject({
      tasksReceived: 3,
      tasksCompleted: 3,
      tasksCancelled: 0,
    });
  });

  test('aborting a map with tasks in flight and more waiting for room cancels each of its tasks once', async () => {
    const { pool } = makePool({ maxWorkers: 1, maxBacklog: 2 });
    const controller = new AbortController();
    const items: [number, string][] = [
      [20_000, 'slow'],
      [0, 'a'],
      [0, 'b'],
      [0, 'c'],
      [0, 'd'],
    ];
    const run = rejection(collect(pool.map(tasks.delayed, items, { signal: controller.signal })));
    await waitFor(
      () => {
        const { tasksRunning, backlogSize } = pool.getStatistics();
        return tasksRunning === 1 && backlogSize === 2;
      },
      { what: 'the slow item running and two waiting' },
    );
    expect(pool.getStatistics().tasksReceived).toBe(3);
    controller.abort(new Error('enough'));
    expect(await run).toBeInstanceOf(CancelledError);
    await waitFor(() => pool.getStatistics().tasksCancelled === 3, { what: 'three cancelled' });
    expect(await pool.submit(tasks.add, [1, 2])).toBe(3);
    expect(pool.getStatistics()).toMatchObject({
      tasksReceived: 4,
      tasksCompleted: 1,
      tasksCancelled: 3,
      tasksFailed: 0,
    });
  });
});
