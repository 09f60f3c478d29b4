/**
 * asCompleted() and wait() (docs/api.md "Future<T>", module helpers).
 */
import { describe, expect, test } from 'vitest';
import { asCompleted, TimeoutError, wait, type Future } from '../dist/index.js';
import * as tasks from './fixtures/core/tasks.mjs';
import { makePool, gate, rejection, started } from './helpers/index.js';

describe('asCompleted', () => {
  test('asCompleted yields futures in the order they complete', async () => {
    const { pool } = makePool({ maxWorkers: 3 });
    const gates = [gate(), gate(), gate()];
    const futures = gates.map((g, i) => pool.submit(tasks.block, [g.path, i]));
    await Promise.all(futures.map((f) => started(f)));
    // Completion order is set by the test: 1, then 2, then 0, each released after the previous one arrives.
    const releaseOrder = [1, 2, 0];
    gates[releaseOrder[0]!]!.open();
    const seen: unknown[] = [];
    // next() keeps the Future type (TypeScript types a for-await element as the awaited result).
    const iterator = asCompleted(futures);
    for (let step = await iterator.next(); step.done !== true; step = await iterator.next()) {
      const future = step.value;
      expect(future.done()).toBe(true);
      seen.push(await future);
      const next = releaseOrder[seen.length];
      if (next !== undefined) gates[next]!.open();
    }
    expect(seen).toEqual([1, 2, 0]);
  });

  test('asCompleted yields already-finished futures too, including failed ones', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const ok = pool.submit(tasks.add, [1, 1]);
    const bad = pool.submit(tasks.fail, ['bad']);
    await Promise.allSettled([ok, bad]);
    const seen = new Set<Future<unknown>>();
    const iterator = asCompleted<unknown>([ok, bad]);
    for (let step = await iterator.next(); step.done !== true; step = await iterator.next())
      seen.add(step.value);
    expect(seen).toEqual(new Set([ok, bad]));
  });

  test('asCompleted with a timeout throws TimeoutError when futures are still not done', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const g = gate();
    const quick = pool.submit(tasks.add, [1, 1]);
    const stuck = pool.submit(tasks.block, [g.path]);
    await quick;
    const seen: Array<Future<unknown>> = [];
    const run = async () => {
      const iterator = asCompleted<unknown>([quick, stuck], { timeout: 500 });
      for (let step = await iterator.next(); step.done !== true; step = await iterator.next())
        seen.push(step.value);
    };
    const t0 = Date.now();
    expect(await rejection(run())).toBeInstanceOf(TimeoutError);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    expect(seen).toEqual([quick]);
    g.open();
    await stuck;
  });
});

describe('wait', () => {
  test("wait with returnWhen 'ALL_COMPLETED' (the default) resolves when every future is done", async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const futures = [
      pool.submit(tasks.add, [1, 1]),
      pool.submit(tasks.fail, ['x']),
      pool.submit(tasks.sleep, [100]),
    ];
    const { done, notDone } = await wait<unknown>(futures);
    expect(done).toEqual(new Set(futures));
    expect(notDone.size).toBe(0);
    for (const f of futures) expect(f.done()).toBe(true);
  });

  test("wait with returnWhen 'FIRST_COMPLETED' resolves when one future is done", async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const g = gate();
    const stuck = pool.submit(tasks.block, [g.path]);
    const quick = pool.submit(tasks.add, [1, 1]);
    const { done, notDone } = await wait<unknown>([stuck, quick], {
      returnWhen: 'FIRST_COMPLETED',
    });
    expect(done).toEqual(new Set([quick]));
    expect(notDone).toEqual(new Set([stuck]));
    g.open();
    await stuck;
  });

  test("wait with returnWhen 'FIRST_EXCEPTION' resolves when a future fails", async () => {
    const { pool } = makePool({ maxWorkers: 3 });
    const g = gate();
    const stuck = pool.submit(tasks.block, [g.path]);
    const ok = pool.submit(tasks.add, [1, 1]);
    await ok;
    const bad = pool.submit(tasks.fail, ['boom']);
    const { done, notDone } = await wait<unknown>([stuck, ok, bad], {
      returnWhen: 'FIRST_EXCEPTION',
    });
    expect(done).toEqual(new Set([ok, bad]));
    expect(notDone).toEqual(new Set([stuck]));
    g.open();
    await stuck;
  });

  test("wait with returnWhen 'FIRST_EXCEPTION' and no failure waits for all", async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const futures = [pool.submit(tasks.add, [1, 1]), pool.submit(tasks.sleep, [100, 'x'])];
    const { done, notDone } = await wait<unknown>(futures, { returnWhen: 'FIRST_EXCEPTION' });
    expect(done).toEqual(new Set(futures));
    expect(notDone.size).toBe(0);
  });

  test('wait with a timeout resolves with what is done and what is not', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const g = gate();
    const stuck = pool.submit(tasks.block, [g.path]);
    const quick = pool.submit(tasks.add, [1, 1]);
    await quick;
    const t0 = Date.now();
    const { done, notDone } = await wait<unknown>([stuck, quick], { timeout: 300 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(done).toEqual(new Set([quick]));
    expect(notDone).toEqual(new Set([stuck]));
    g.open();
    await stuck;
  });
});

describe('bad arguments', () => {
  test.each([
    ['wait', (futures: unknown) => wait(futures as never)],
    ['asCompleted', (futures: unknown) => asCompleted(futures as never)],
  ])('%s refuses a first argument that is not an iterable of futures, naming it', (_, call) => {
    expect(() => call(5)).toThrow(
      new TypeError('Expected `futures` to be an iterable of futures, got `5` (number)'),
    );
    expect(() => call(null)).toThrow(
      new TypeError('Expected `futures` to be an iterable of futures, got `null` (null)'),
    );
    expect(() => call([Promise.resolve(1)])).toThrow(
      new TypeError('Expected `futures[0]` to be a Future, got `[object Promise]` (object)'),
    );
  });

  test('wait refuses an unknown option name', () => {
    expect(() => wait([], { timout: 10 } as never)).toThrow(
      new TypeError('Unknown option `timout` of wait(); the options are: timeout, returnWhen'),
    );
    expect(() => wait([], null as never)).toThrow(
      new TypeError('Expected `options` of wait() to be an options object, got `null` (null)'),
    );
  });

  test('asCompleted refuses an unknown option name', () => {
    expect(() => asCompleted([], { timout: 10 } as never)).toThrow(
      new TypeError('Unknown option `timout` of asCompleted(); the options are: timeout'),
    );
  });

  test('wait refuses an unknown returnWhen, naming the allowed ones', () => {
    expect(() => wait([], { returnWhen: 'SOMETIMES' as never })).toThrow(
      new TypeError(
        "Expected `returnWhen` to be 'FIRST_COMPLETED', 'FIRST_EXCEPTION' or 'ALL_COMPLETED', got `SOMETIMES` (string)",
      ),
    );
  });
});
