import { describe, expect, test } from 'vitest';
import { Future, settleFuture, startFuture, type CancelHooks } from '../src/parent/future.js';
import { mapItems, type MapPlan } from '../src/parent/map.js';
import { CancelledError } from '../src/shared/errors.js';
import type { Outcome as WireOutcome } from '../src/shared/protocol.js';

type Outcome = WireOutcome<unknown>;

/** A plan whose "worker" answers every batch at once and records batch sizes. */
function instantPlan(batching: boolean, fail?: (x: number) => boolean, answerBelow = Infinity) {
  const sizes: number[] = [];
  const cancelled: number[] = [];
  let id = 0;
  const hooks: CancelHooks<unknown> = {
    cancel: (token) => (cancelled.push(token as number), true),
    kill: () => {},
  };
  const plan: MapPlan = {
    maxBatches: 4,
    batching,
    ordered: true,
    room: () => undefined,
    submit(items) {
      sizes.push(items.length);
      const future = new Future<Outcome[]>(hooks, id++);
      const outcomes = items.map(([x]): Outcome =>
        fail?.(x as number) ? [false, new Error(`bad ${String(x)}`)] : [true, (x as number) * 10],
      );
      // Batches from `answerBelow` on stay waiting, as if every worker were busy.
      if ((items[0]![0] as number) < answerBelow) {
        startFuture(future as Future<unknown>, 1);
        queueMicrotask(() => settleFuture(future as Future<unknown>, true, outcomes));
      }
      return future;
    },
  };
  return { plan, sizes, cancelled };
}

async function collect(iterable: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

describe('mapItems', () => {
  test('batches grow when items are quick, and results keep input order', async () => {
    const { plan, sizes } = instantPlan(true);
    const input = Array.from({ length: 5_000 }, (_, i) => i);
    expect(await collect(mapItems(plan, input))).toEqual(input.map((x) => x * 10));
    expect(sizes[0]).toBe(1);
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(5_000);
  });

  test('without batching every item travels alone', async () => {
    const { plan, sizes } = instantPlan(false);
    await collect(
      mapItems(
        plan,
        Array.from({ length: 300 }, (_, i) => i),
      ),
    );
    expect(new Set(sizes)).toEqual(new Set([1]));
  });

  test('in-flight work is bounded: an endless input is read only as far as needed', async () => {
    const { plan, sizes } = instantPlan(true);
    let read = 0;
    function* endless() {
      for (;;) yield read++;
    }
    let taken = 0;
    for await (const _ of mapItems(plan, endless())) if (++taken === 1_000) break;
    expect(read - taken).toBeLessThanOrEqual(4 * 256);
    expect(sizes.length).toBeGreaterThan(0);
  });

  test('a failed item throws at its position and the batches still in flight are cancelled', async () => {
    const { plan, cancelled } = instantPlan(true, (x) => x === 700, 701);
    const seen: unknown[] = [];
    const run = async () => {
      for await (const value of mapItems(
        plan,
        Array.from({ length: 5_000 }, (_, i) => i),
      ))
        seen.push(value);
    };
    await expect(run()).rejects.toThrow('bad 700');
    expect(seen).toHaveLength(700);
    expect(cancelled.length).toBeGreaterThan(0);
  });

  test('a slow async input keeps batches small', async () => {
    const { plan, sizes } = instantPlan(true);
    async function* slow() {
      for (let i = 0; i < 60; i++) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        yield i;
      }
    }
    expect(await collect(mapItems(plan, slow()))).toHaveLength(60);
    expect(Math.max(...sizes)).toBe(1);
  });

  test('an aborted signal ends the iteration at its next step, even when every item already finished', async () => {
    const { plan } = instantPlan(true);
    const controller = new AbortController();
    const reason = new Error('enough');
    const seen: unknown[] = [];
    const run = async () => {
      for await (const value of mapItems({ ...plan, signal: controller.signal }, [1, 2, 3, 4])) {
        seen.push(value);
        // Every item has been answered by now: only the map's own check can stop it.
        if (seen.length === 2) controller.abort(reason);
      }
    };
    const error = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as CancelledError).cause).toBe(reason);
    expect(seen).toEqual([10, 20]);
  });

  test('a batch is submitted only once room() says so, asked again after each wait', async () => {
    const { plan, sizes } = instantPlan(false);
    // Two waits before the first batch: the first room is taken by someone else.
    const rooms: (() => void)[] = [];
    let waits = 2;
    const roomy: MapPlan = {
      ...plan,
      room: () => (waits-- > 0 ? new Promise<void>((resolve) => rooms.push(resolve)) : undefined),
    };
    const run = collect(mapItems(roomy, [1, 2, 3]));
    await Promise.resolve();
    expect(sizes).toEqual([]);
    rooms.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sizes).toEqual([]);
    expect(rooms).toHaveLength(1);
    rooms.shift()!();
    expect(await run).toEqual([10, 20, 30]);
    expect(sizes).toEqual([1, 1, 1]);
  });
});
