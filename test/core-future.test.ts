/**
 * Future<T> (docs/api.md "Future"): state, cancel, callbacks, result(ms)/exception(ms),
 * and promise interop.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { CancelledError, Future, TimeoutError } from '../dist/index.js';
import * as tasks from './fixtures/core/tasks.mjs';
import { makePool, waitFor, gate, rejection, turn, started, tempDir } from './helpers/index.js';

/** A pool of one worker busy with a blocked task, so anything submitted next waits. */
async function busyPool() {
  const { pool } = makePool({ maxWorkers: 1 });
  const g = gate();
  const blocker = pool.submit(tasks.block, [g.path, 'blocker']);
  await started(blocker);
  return { pool, blocker, open: g.open };
}

describe('state', () => {
  test('a future goes pending → running → done', async () => {
    const { pool, blocker, open } = await busyPool();
    const future = pool.submit(tasks.add, [1, 2]);
    expect([future.running(), future.done(), future.cancelled()]).toEqual([false, false, false]);
    expect(future.pid).toBeUndefined();
    expect([blocker.running(), blocker.done(), blocker.cancelled()]).toEqual([true, false, false]);
    expect(typeof blocker.pid).toBe('number');
    open();
    await future;
    expect([future.running(), future.done(), future.cancelled()]).toEqual([false, true, false]);
    expect(future.pid).toBe(blocker.pid);
  });

  test('a failed future is done and not cancelled', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const future = pool.submit(tasks.fail, ['nope']);
    await rejection(future);
    expect([future.running(), future.done(), future.cancelled()]).toEqual([false, true, false]);
  });
});

describe('cancel', () => {
  test('cancel() of a waiting task returns true, and the task never runs', async () => {
    const { pool, blocker, open } = await busyPool();
    const marker = join(tempDir(), 'would-run');
    const future = pool.submit(tasks.mark, [marker, 'ran']);
    expect(future.cancel()).toBe(true);
    expect(future.cancelled()).toBe(true);
    expect(future.done()).toBe(true);
    expect(await rejection(future)).toBeInstanceOf(CancelledError);
    open();
    await blocker;
    // A task submitted after it has run, so the cancelled one had every chance to run.
    await pool.submit(tasks.add, [1, 1]);
    expect(existsSync(marker)).toBe(false);
  });

  test('cancel() twice returns true both times', async () => {
    const { pool } = await busyPool();
    const future = pool.submit(tasks.add, [1, 2]);
    expect(future.cancel()).toBe(true);
    expect(future.cancel()).toBe(true);
  });

  test('cancel() of a running task returns false and the task finishes', async () => {
    const { blocker, open } = await busyPool();
    expect(blocker.cancel()).toBe(false);
    expect(blocker.running()).toBe(true);
    open();
    expect(await blocker).toBe('blocker');
  });

  test('cancel() right after submit to an idle worker returns false: the task was handed over at once and runs to its end', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    await pool.ready();
    const future = pool.submit(tasks.add, [1, 2]);
    expect(future.running()).toBe(false);
    expect(future.cancel()).toBe(false);
    expect(future.cancelled()).toBe(false);
    expect(await future).toBe(3);
  });

  test('cancel() of a finished task returns false', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const future = pool.submit(tasks.add, [1, 2]);
    await future;
    expect(future.cancel()).toBe(false);
    expect(future.cancelled()).toBe(false);
  });
});

describe('callbacks', () => {
  test('done callbacks are called once, in order of registration, with the future', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const future = pool.submit(tasks.add, [1, 2]);
    const calls: string[] = [];
    future.addDoneCallback((f) => {
      expect(f).toBe(future);
      calls.push('a');
    });
    future.addDoneCallback(() => calls.push('b'));
    await future;
    await waitFor(() => calls.length === 2, { what: 'done callbacks' });
    expect(calls).toEqual(['a', 'b']);
  });

  test('a done callback added after the future is done is called at once', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const future = pool.submit(tasks.add, [1, 2]);
    await future;
    let called = 0;
    future.addDoneCallback(() => called++);
    expect(called).toBe(1);
  });

  test('pid callbacks registered before and after the start are all called, in order, with the pid set', async () => {
    const { pool, blocker, open } = await busyPool();
    const future = pool.submit(tasks.sleep, [50, 'x']);
    const calls: Array<[string, number | undefined]> = [];
    future.addPidCallback((f) => calls.push(['before 1', f.pid]));
    future.addPidCallback((f) => calls.push(['before 2', f.pid]));
    open();
    await blocker;
    const pid = await started(future);
    future.addPidCallback((f) => calls.push(['after', f.pid]));
    expect(calls).toEqual([
      ['before 1', pid],
      ['before 2', pid],
      ['after', pid],
    ]);
    expect(pid).toBe(blocker.pid);
    await future;
  });

  test('a throwing done callback is reported as a process warning and the other callbacks still run', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const { pool } = makePool({ maxWorkers: 1 });
      const future = pool.submit(tasks.add, [1, 2]);
      const calls: string[] = [];
      future.addDoneCallback(() => {
        calls.push('first');
        throw new Error('callback blew up');
      });
      future.addDoneCallback(() => calls.push('second'));
      expect(await future).toBe(3);
      await waitFor(() => calls.length === 2, { what: 'both callbacks' });
      expect(calls).toEqual(['first', 'second']);
      await waitFor(() => warnings.some((w) => /callback blew up/.test(w.message)), {
        what: 'a warning',
      });
      // The pool is unharmed.
      expect(await pool.submit(tasks.add, [2, 2])).toBe(4);
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('a throwing pid callback is reported as a process warning and does not harm the task', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const { pool } = makePool({ maxWorkers: 1 });
      const future = pool.submit(tasks.add, [1, 2]);
      let second = false;
      future.addPidCallback(() => {
        throw new Error('pid callback blew up');
      });
      future.addPidCallback(() => {
        second = true;
      });
      expect(await future).toBe(3);
      expect(second).toBe(true);
      await waitFor(() => warnings.some((w) => /pid callback blew up/.test(w.message)), {
        what: 'a warning',
      });
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('result and exception', () => {
  test('result(ms) and exception(ms) refuse a wrong type with a TypeError, a bad number with a RangeError', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const future = pool.submit(tasks.add, [1, 2]);
    for (const wrong of ['x', null]) {
      expect(() => future.result(wrong as never)).toThrow(TypeError);
      expect(() => future.exception(wrong as never)).toThrow(TypeError);
    }
    expect(() => future.result('x' as never)).toThrow(
      new TypeError('Expected `timeoutMs` to be a finite number >= 0, got `x` (string)'),
    );
    expect(() => future.result(null as never)).toThrow(/got `null` \(null\)$/);
    for (const bad of [-1, Number.NaN, Infinity]) {
      expect(() => future.result(bad)).toThrow(RangeError);
    }
    expect(await future).toBe(3);
    // Settled, the argument is still checked.
    expect(() => future.result('x' as never)).toThrow(TypeError);
  });

  test('a callback that is not a function reads as what it is in the message', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const future = pool.submit(tasks.add, [1, 2]);
    expect(() => future.addDoneCallback(null as never)).toThrow(
      new TypeError('Expected `cb` to be a function, got `null` (null)'),
    );
  });

  test('result(ms) rejects with TimeoutError when the task takes longer, and the task goes on', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const g = gate();
    const future = pool.submit(tasks.block, [g.path, 'eventually']);
    await started(future);
    const error = await rejection(future.result(100));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(future.running()).toBe(true);
    g.open();
    expect(await future.result()).toBe('eventually');
    expect(await future.result(1_000)).toBe('eventually');
  });

  test('exception() gives the error of a failed task and undefined for a successful one', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const failed = pool.submit(tasks.fail, ['broken']);
    const ok = pool.submit(tasks.add, [1, 2]);
    const error = await failed.exception();
    expect(error).toBeInstanceOf(Error);
    expect(error?.message).toBe('broken');
    expect(await ok.exception()).toBeUndefined();
  });

  test('exception() of a cancelled future gives the CancelledError', async () => {
    const { pool } = await busyPool();
    const future = pool.submit(tasks.add, [1, 2]);
    future.cancel();
    expect(await future.exception()).toBeInstanceOf(CancelledError);
  });

  test('exception(ms) rejects with TimeoutError when the task takes longer', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const g = gate();
    const future = pool.submit(tasks.block, [g.path]);
    expect(await rejection(future.exception(100))).toBeInstanceOf(TimeoutError);
    g.open();
    expect(await future.exception()).toBeUndefined();
  });
});

describe('promise interop', () => {
  test('futures work with Promise.all', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const futures = [1, 2, 3, 4].map((n) => pool.submit(tasks.square, [n]));
    expect(await Promise.all(futures)).toEqual([1, 4, 9, 16]);
  });

  test('futures work with Promise.race', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const g = gate();
    const slow = pool.submit(tasks.block, [g.path, 'slow']);
    const fast = pool.submit(tasks.add, [1, 1]);
    expect(await Promise.race([slow, fast])).toBe(2);
    g.open();
    await slow;
  });

  test('futures work with then, catch and finally', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const doubled = await pool.submit(tasks.add, [2, 3]).then((n) => n * 2);
    expect(doubled).toBe(10);
    const caught = await pool
      .submit(tasks.fail, ['oops'])
      .catch((e: unknown) => (e as Error).message);
    expect(caught).toBe('oops');
    let finished = false;
    await pool.submit(tasks.add, [0, 0]).finally(() => {
      finished = true;
    });
    expect(finished).toBe(true);
  });

  test('Future is an exported class and submit returns instances of it', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(typeof Future).toBe('function');
    expect(pool.submit(tasks.add, [1, 1])).toBeInstanceOf(Future);
  });

  test('a failing future that nobody awaits never causes an unhandledRejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { pool } = makePool({ maxWorkers: 1 });
      const settled: boolean[] = [];
      // Neither awaited nor given a catch handler.
      const futures = [
        pool.submit(tasks.fail, ['ignored 1']),
        pool.submit(tasks.fail, ['ignored 2']),
      ];
      for (const f of futures) f.addDoneCallback(() => settled.push(true));
      await waitFor(() => settled.length === 2, { what: 'both futures to settle' });
      // Node reports unhandled rejections once the microtasks drain, before the next turn.
      await turn();
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
