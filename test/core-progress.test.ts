/**
 * Progress (docs/streams.md "Progress"): values a task passes to
 * reportProgress() reach onProgress and the future's progress callbacks, in
 * order, before the future settles; a flood is coalesced but its last value
 * arrives; late callbacks see only later values; a throwing callback is a
 * warning.
 */
import { describe, expect, it } from 'vitest';
import { reportProgress, type Future } from '../dist/index.js';
import { badValue, count, flood, gated, rich } from './fixtures/core/progress.mjs';
import { gate, makePool, rejection, waitFor } from './helpers/index.js';

describe('reportProgress', () => {
  it('delivers every value in order, before the future settles, to onProgress and callbacks', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const viaOption: unknown[] = [];
    const viaCallback: unknown[] = [];
    let atSettle: number | undefined;
    const future = pool.submit(count, [20], {
      onProgress: (value, f) => {
        expect(f).toBe(future);
        viaOption.push(value);
      },
    });
    future.addProgressCallback((value) => viaCallback.push(value));
    future.addDoneCallback(() => (atSettle = viaOption.length));
    expect(await future).toBe(20);
    const all = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(viaOption).toEqual(all);
    expect(viaCallback).toEqual(all);
    expect(atSettle).toBe(20);
  });

  it('gives a callback added late only the values reported after it was added', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const door = gate();
    const early: unknown[] = [];
    const late: unknown[] = [];
    const future = pool.submit(gated, [door.path], { onProgress: (v) => early.push(v) });
    await waitFor(() => early.length === 1, { what: "the 'before' value" });
    future.addProgressCallback((v) => late.push(v));
    door.open();
    expect(await future).toBe('done');
    expect(early).toEqual(['before', 'after']);
    expect(late).toEqual(['after']);
  });

  it('coalesces a flood without blocking the task, keeping order and the last value', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const seen: number[] = [];
    const n = 200_000;
    const result = await pool.submit(flood, [n], {
      onProgress: (v) => seen.push((v as { i: number }).i),
    });
    expect(result.n).toBe(n);
    expect(seen.at(-1)).toBe(n - 1);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThan(n); // coalesced: the parent could not take 200,000 values at once
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
  });

  it('carries structured-clone values (Map, Date, BigInt, Buffer)', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const value = { m: new Map([[1, 'a']]), d: new Date(5), b: 10n, buf: Buffer.from('hi') };
    const seen: unknown[] = [];
    await pool.submit(rich, [value], { onProgress: (v) => seen.push(v) });
    expect(seen).toHaveLength(1);
    const got = seen[0] as typeof value;
    expect(got.m.get(1)).toBe('a');
    expect(got.d.getTime()).toBe(5);
    expect(got.b).toBe(10n);
    expect(Buffer.from(got.buf).toString()).toBe('hi');
  });

  it('throws in the task for a value that cannot be cloned; the worker goes on', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const error = await rejection(pool.submit(badValue, []));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(
      /reportProgress\(\) got a value that cannot be cloned/,
    );
    expect(await pool.submit(count, [2])).toBe(2);
  });

  it('reports a throwing progress callback as a warning and still calls the others', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const seen: unknown[] = [];
      const future: Future<number> = pool.submit(count, [3]);
      future.addProgressCallback(() => {
        throw new Error('progress callback blew up');
      });
      future.addProgressCallback((v) => seen.push(v));
      expect(await future).toBe(3);
      expect(seen).toEqual([1, 2, 3]);
      await waitFor(() => warnings.length >= 3, { what: 'three warnings' });
      expect(warnings[0]).toMatch(/progress callback threw: .*progress callback blew up/);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('does nothing outside a task', () => {
    expect(() => reportProgress({ anything: 1 })).not.toThrow();
  });

  it('refuses an onProgress that is not a function', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.submit(count, [1], { onProgress: 5 as never })).toThrow(
      /Expected `onProgress` to be a function, got `5` \(number\)/,
    );
    const future = pool.submit(count, [1]);
    expect(() => future.addProgressCallback('x' as never)).toThrow(TypeError);
  });
});
