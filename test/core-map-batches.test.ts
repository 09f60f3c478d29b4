/**
 * map() ships several items per message once tasks prove short (issue 4);
 * each item still keeps its own result, error and position.
 */
import { describe, expect, test } from 'vitest';
import { SerializationError, TimeoutError } from '../dist/index.js';
import { makePool } from './helpers/index.js';

const N = 3_000;

describe('map in batches', () => {
  test('thousands of tiny items come back complete and in input order', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const results: number[] = [];
    for await (const value of pool.map(
      (x: number) => x * 2,
      Array.from({ length: N }, (_, i) => i),
    )) {
      results.push(value);
    }
    expect(results).toEqual(Array.from({ length: N }, (_, i) => i * 2));
    const stats = pool.getStatistics();
    expect(stats.tasksReceived).toBe(N);
    expect(stats.tasksCompleted).toBe(N);
  });

  test('an item that throws deep in the input throws at its own position, after every earlier result', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const seen: number[] = [];
    const iterate = async () => {
      const fail = (x: number) => {
        if (x === 2_500) throw new RangeError(`item ${x} is bad`);
        return x;
      };
      for await (const value of pool.map(
        fail,
        Array.from({ length: N }, (_, i) => i),
      ))
        seen.push(value);
    };
    await expect(iterate()).rejects.toThrow(new RangeError('item 2500 is bad'));
    expect(seen).toEqual(Array.from({ length: 2_500 }, (_, i) => i));
    expect(pool.getStatistics().tasksFailed).toBe(1);
  });

  test('a result that cannot be serialized fails only its own position', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const seen: unknown[] = [];
    const iterate = async () => {
      const odd = (x: number) => (x === 2_000 ? () => x : x);
      for await (const value of pool.map(
        odd,
        Array.from({ length: N }, (_, i) => i),
      ))
        seen.push(value);
    };
    const error = await iterate().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SerializationError);
    expect(seen).toEqual(Array.from({ length: 2_000 }, (_, i) => i));
  });

  test('with a timeout each item keeps its own deadline: only the endless one times out', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const seen: number[] = [];
    const iterate = async () => {
      const maybeSpin = (x: number) => {
        if (x === 40) for (;;);
        return x;
      };
      const items = Array.from({ length: 60 }, (_, i) => i);
      for await (const value of pool.map(maybeSpin, items, { timeout: 2_000 })) seen.push(value);
    };
    await expect(iterate()).rejects.toBeInstanceOf(TimeoutError);
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(pool.getStatistics().tasksTimedOut).toBe(1);
  });
});
