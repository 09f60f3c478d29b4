/**
 * Hard timeouts against tasks that cannot be reasoned with: a synchronous
 * endless loop, and one that also ignores SIGTERM. The deadline is kept by the
 * parent, the worker is SIGKILLed and replaced, and the pool goes on.
 */
import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../dist/index.js';
import { forever, foreverIgnoringSigterm, nativeBlock, twice } from './fixtures/faults/basic.mjs';
import {
  exists,
  isAlive,
  makePool,
  waitFor,
  nextEvent,
  record,
  rejection,
  started,
} from './helpers/index.js';

describe('hard timeout', () => {
  it('kills a worker blocked in while(true) three times in a row, and a burst of good tasks runs after each', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const exits = record(pool, 'workerExit');
    const timeouts = record(pool, 'taskTimeout');
    for (let round = 0; round < 3; round++) {
      const spin = pool.submit(forever, [], { timeout: 300, name: `spin-${round}` });
      const pid = await started(spin);
      const error = await rejection(spin);
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).code).toBe('ERR_DEADPOOL_TIMEOUT');
      expect((error as Error).message).toContain('timed out');
      const exit = await waitFor(() => exits.find((e) => e.pid === pid), {
        what: `workerExit of ${pid}`,
      });
      expect(exit).toMatchObject({ reason: 'timeout', signal: 'SIGKILL' });
      expect(isAlive(pid)).toBe(false);

      const burst = Array.from({ length: 20 }, (_, i) => pool.submit(twice, [round * 100 + i]));
      const results = await Promise.all(burst);
      expect(results.map((r) => r.value)).toEqual(burst.map((_, i) => (round * 100 + i) * 2 + 1));
      expect(results.filter((r) => r.pid === pid)).toEqual([]);
    }
    expect(timeouts.map((t) => [t.name, t.soft])).toEqual([
      ['spin-0', false],
      ['spin-1', false],
      ['spin-2', false],
    ]);
    expect(exits.filter((e) => e.reason === 'timeout')).toHaveLength(3);
  });

  it('rejects a blocked task soon after its timeout passes, counted from the hand-off to the worker', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    await pool.ready();
    const spin = pool.submit(forever, [], { timeout: 400 });
    await started(spin);
    const handedOff = Date.now();
    await rejection(spin);
    const elapsed = Date.now() - handedOff;
    expect(elapsed).toBeGreaterThanOrEqual(380);
    expect(elapsed).toBeLessThan(2_400);
  });

  it('kills a task that ignores SIGTERM just the same, with SIGKILL', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const stubborn = pool.submit(foreverIgnoringSigterm, [], { timeout: 300 });
    const pid = await started(stubborn);
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === pid);
    expect(await rejection(stubborn)).toBeInstanceOf(TimeoutError);
    expect(await exit).toMatchObject({ pid, reason: 'timeout', signal: 'SIGKILL' });
    await waitFor(() => !isAlive(pid), { timeoutMs: 2_000, what: `worker ${pid} to die` });
    expect((await pool.submit(twice, [5])).value).toBe(11);
  });

  it('kills a worker blocked in native code (Atomics.wait) just the same', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const blocked = pool.submit(nativeBlock, [], { timeout: 300 });
    const pid = await started(blocked);
    expect(await rejection(blocked)).toBeInstanceOf(TimeoutError);
    await waitFor(() => !isAlive(pid), { timeoutMs: 2_000, what: `worker ${pid} to die` });
    expect((await pool.submit(twice, [6])).value).toBe(13);
  });

  it('counts a timed-out task as failed once, already when its future rejects', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const spin = pool.submit(forever, [], { timeout: 200 });
    const pid = await started(spin);
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === pid);
    await rejection(spin);
    expect(pool.getStatistics().tasksFailed).toBe(1);
    await exit;
    expect((await pool.submit(twice, [1])).value).toBe(3);
    expect(pool.getStatistics()).toMatchObject({
      tasksReceived: 2,
      tasksLaunched: 2,
      tasksFailed: 1,
    });
  });

  it('leaves no zombie behind a timed-out worker', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const spin = pool.submit(forever, [], { timeout: 200 });
    const pid = await started(spin);
    await rejection(spin);
    await waitFor(() => !exists(pid), { timeoutMs: 3_000, what: `worker ${pid} to be reaped` });
    expect((await pool.submit(twice, [1])).value).toBe(3);
  });

  it('applies the pool-wide default timeout to a task that gives none', async () => {
    const { pool } = makePool({ maxWorkers: 1, timeout: 300 });
    const spin = pool.submit(forever, []);
    const pid = await started(spin);
    expect(await rejection(spin)).toBeInstanceOf(TimeoutError);
    await waitFor(() => !isAlive(pid), { timeoutMs: 2_000, what: `worker ${pid} to die` });
    expect((await pool.submit(twice, [2])).value).toBe(5);
  });
});
