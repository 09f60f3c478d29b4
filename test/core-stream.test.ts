/**
 * Streams (docs/streams.md "Streams"): pool.stream delivers a generator
 * task's values as they are produced, at most highWaterMark ahead of the
 * consumer; leaving early ends the generator in the worker (or kills a task
 * that cannot end); a dying or timed-out task ends the loop with its error
 * after the values delivered. submit collects a generator's values;
 * map({ ordered: false }) yields results as they complete.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { CancelledError, ProcessError, SerializationError, TimeoutError } from '../dist/index.js';
import {
  chunks,
  count,
  endless,
  stuck,
  syncLetters,
  yieldFunction,
  yieldThenHang,
} from './fixtures/core/streams.mjs';
import { add, delayed, fail, pid, sleep } from './fixtures/core/tasks.mjs';
import { killChild, makePool, nextEvent, rejection, tempDir, waitFor } from './helpers/index.js';

const MB = 1_000_000;

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const values: T[] = [];
  for await (const value of iterable) values.push(value);
  return values;
}

describe('pool.stream', () => {
  it('delivers each value in order as it is produced; the future resolves with the return value', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const stream = pool.stream(count, [50]);
    expectTypeOf(stream).toMatchTypeOf<AsyncIterable<number>>();
    expect(await collect(stream)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(await stream.future).toBe('finished');
    expect(pool.getStatistics()).toMatchObject({ tasksCompleted: 1 });
  });

  it('keeps the worker at most highWaterMark values ahead of a slow consumer, memory bounded', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const marker = join(tempDir(), 'produced.json');
    const highWaterMark = 4;
    const n = 120;
    const before = process.memoryUsage.rss();
    const stream = pool.stream(chunks, [n, MB, marker], { highWaterMark });
    let consumed = 0;
    let maxAhead = 0;
    let maxWorkerRss = 0;
    let maxParentRss = 0;
    for await (const chunk of stream) {
      expect(chunk.length).toBe(MB);
      expect(chunk[0]).toBe(consumed % 256);
      consumed++;
      // A slow consumer: the worker could produce far faster.
      await new Promise((resolve) => setTimeout(resolve, 2));
      const { produced, rss } = JSON.parse(readFileSync(marker, 'utf8')) as {
        produced: number;
        rss: number;
      };
      maxAhead = Math.max(maxAhead, produced - consumed);
      maxWorkerRss = Math.max(maxWorkerRss, rss);
      maxParentRss = Math.max(maxParentRss, process.memoryUsage.rss());
      expect(stream.buffered).toBeLessThanOrEqual(highWaterMark);
    }
    expect(consumed).toBe(n);
    expect(maxAhead).toBeLessThanOrEqual(highWaterMark);
    expect(maxAhead).toBeGreaterThan(0);
    // 120 MB went through; neither side held more than a few chunks' worth (generous bounds).
    expect(maxWorkerRss).toBeLessThan(200 * MB);
    expect(maxParentRss - before).toBeLessThan(80 * MB);
  });

  it('leaving the loop early runs the generator’s finally in the worker and frees it', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const marker = join(tempDir(), 'finally');
    const stream = pool.stream(endless, [marker]);
    const seen: number[] = [];
    for await (const value of stream) {
      seen.push(value);
      if (seen.length === 3) break;
    }
    expect(seen).toEqual([0, 1, 2]);
    await stream.future;
    const worker = await pool.submit(pid, []);
    expect(readFileSync(marker, 'utf8')).toBe(`finally ran in ${worker}`);
    expect(pool.getStatistics().workerExits.killed).toBe(0);
  });

  it('kills a task that has not ended 1 s after its consumer left', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const stream = pool.stream(stuck, []);
    const iterator = stream[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ value: 'first', done: false });
    const workerPid = await new Promise<number>((resolve) =>
      stream.future.addPidCallback((f) => resolve(f.pid!)),
    );
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === workerPid);
    const left = performance.now();
    await iterator.return();
    expect(await rejection(stream.future)).toBeInstanceOf(CancelledError);
    expect(await exit).toMatchObject({ reason: 'killed', signal: 'SIGKILL' });
    expect(performance.now() - left).toBeGreaterThanOrEqual(900);
    expect(await pool.submit(pid, [])).not.toBe(workerPid);
  });

  it('ends the loop with a ProcessError after the values delivered when the worker dies', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const stream = pool.stream(yieldThenHang, [5]);
    const seen: number[] = [];
    const error = await (async () => {
      try {
        for await (const value of stream) {
          seen.push(value);
          if (seen.length === 5) expect(killChild(stream.future.pid!)).toBe(true);
        }
      } catch (thrown) {
        return thrown;
      }
      return undefined;
    })();
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(error).toBeInstanceOf(ProcessError);
    expect(await rejection(stream.future)).toBe(error);
  });

  it('ends the loop with a TimeoutError after the values delivered when the task times out', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const stream = pool.stream(yieldThenHang, [3], { timeout: 500 });
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const value of stream) seen.push(value);
      })(),
    ).rejects.toBeInstanceOf(TimeoutError);
    expect(seen).toEqual([0, 1, 2]);
  });

  it('fails with a SerializationError when a yielded value cannot be cloned', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const stream = pool.stream(yieldFunction, []);
    const seen: unknown[] = [];
    const error = await rejection(
      (async () => {
        for await (const value of stream) seen.push(value);
      })(),
    );
    expect(seen).toEqual([1]);
    expect(error).toBeInstanceOf(SerializationError);
    expect(await pool.submit(pid, [])).toBeTypeOf('number');
  });

  it('cancels a stream whose consumer left before it started; it never runs', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const marker = join(tempDir(), 'finally');
    const blocker = pool.submit(delayed, [[300, 'blocker']]);
    const stream = pool.stream(endless, [marker]);
    await stream[Symbol.asyncIterator]().return();
    expect(await rejection(stream.future)).toBeInstanceOf(CancelledError);
    expect(await blocker).toBe('blocker');
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses a highWaterMark that is not a positive integer', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.stream(count, [1], { highWaterMark: 0 })).toThrow(
      /Expected `highWaterMark` to be an integer >= 1, got `0` \(number\)/,
    );
  });
});

describe('pool.stream of a task that is not a generator', () => {
  it('yields its result once, and the future resolves with it', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const stream = pool.stream(add, [20, 22]);
    expectTypeOf(stream).toMatchTypeOf<AsyncIterable<number>>();
    expect(await collect(stream)).toEqual([42]);
    expect(await stream.future).toBe(42);
    expect(pool.getStatistics()).toMatchObject({ tasksCompleted: 1 });
  });

  it('yields an async task’s awaited result once', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const stream = pool.stream(sleep, [1, 'slept']);
    expect(await collect(stream)).toEqual(['slept']);
    expect(await stream.future).toBe('slept');
  });

  it('yields nothing and throws the task’s error when it fails', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const stream = pool.stream(fail, ['no result']);
    const seen: unknown[] = [];
    const error = await rejection(
      (async () => {
        for await (const value of stream) seen.push(value);
      })(),
    );
    expect(seen).toEqual([]);
    expect(error).toMatchObject({ message: 'no result' });
    expect(await rejection(stream.future)).toBe(error);
  });
});

describe('generator tasks through submit', () => {
  it('resolve with the array of the values they yielded', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const values = await pool.submit(count, [5]);
    expectTypeOf(values).toEqualTypeOf<number[]>();
    expect(values).toEqual([0, 1, 2, 3, 4]);
    expect(await pool.submit(syncLetters, [])).toEqual(['a', 'b']);
  });
});

describe('map({ ordered: false })', () => {
  it('yields results as they complete, every one once', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    await pool.ready();
    const items: [number, string][] = [
      [600, 'slow'],
      [10, 'fast1'],
      [10, 'fast2'],
      [10, 'fast3'],
    ];
    const order = await collect(pool.map(delayed, items, { ordered: false }));
    expect([...order].sort()).toEqual(['fast1', 'fast2', 'fast3', 'slow']);
    expect(order.at(-1)).toBe('slow');
    const inOrder = await collect(pool.map(delayed, items));
    expect(inOrder).toEqual(['slow', 'fast1', 'fast2', 'fast3']);
    await waitFor(() => pool.getStatistics().workerProcessesBusy === 0);
  });

  it('refuses an ordered option that is not a boolean', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.map(delayed, [], { ordered: 'no' as never })).toThrow(
      /Expected `ordered` to be a boolean, got `no` \(string\)/,
    );
  });
});
