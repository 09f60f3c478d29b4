/**
 * softTimeout: the task's own AbortSignal is aborted with a TimeoutError reason
 * so a cooperative task can clean up and settle by itself; the hard timeout
 * still kills one that does not listen.
 */
import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../dist/index.js';
import { forever, twice } from './fixtures/faults/basic.mjs';
import { cooperativeReject, cooperativeResolve, uncooperative } from './fixtures/faults/soft.mjs';
import { isAlive, makePool, waitFor, record, rejection, started } from './helpers/index.js';

describe('softTimeout', () => {
  it("lets a cooperative task settle by itself with the TimeoutError reason, emitting 'taskTimeout' soft: true", async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const timeouts = record(pool, 'taskTimeout');
    const exits = record(pool, 'workerExit');
    const task = pool.submit(cooperativeResolve, [], {
      softTimeout: 200,
      timeout: 10_000,
      name: 'polite',
    });
    const pid = await started(task);
    const result = await task;
    expect(result).toMatchObject({ cleanedUp: true, reasonName: 'TimeoutError', pid });
    expect(timeouts).toMatchObject([{ pid, name: 'polite', soft: true }]);
    expect(exits).toEqual([]);
    const after = await pool.submit(twice, [1]);
    expect(after.pid).toBe(pid);
  });

  it('lets a cooperative task reject with the signal reason, which arrives as a TimeoutError by name and code', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const task = pool.submit(cooperativeReject, [], { softTimeout: 200, timeout: 10_000 });
    const pid = await started(task);
    const error = await rejection(task);
    expect((error as Error).name).toBe('TimeoutError');
    expect((error as { code?: unknown }).code).toBe('ERR_DEADPOOL_TIMEOUT');
    expect(isAlive(pid)).toBe(true);
    expect((await pool.submit(twice, [2])).pid).toBe(pid);
  });

  it("kills a task that ignores its signal at the hard timeout: 'taskTimeout' soft: true, then soft: false", async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const timeouts = record(pool, 'taskTimeout');
    const exits = record(pool, 'workerExit');
    const task = pool.submit(uncooperative, [], { softTimeout: 200, timeout: 800, name: 'rude' });
    const pid = await started(task);
    const error = await rejection(task);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(timeouts).toMatchObject([
      { pid, name: 'rude', soft: true },
      { pid, name: 'rude', soft: false },
    ]);
    await waitFor(() => exits.find((e) => e.pid === pid), { what: `workerExit of ${pid}` });
    expect(exits[0]).toMatchObject({ pid, reason: 'timeout', signal: 'SIGKILL' });
    expect((await pool.submit(twice, [3])).value).toBe(7);
  });

  it('throws RangeError at submit when softTimeout is not less than timeout', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.submit(forever, [], { softTimeout: 500, timeout: 500 })).toThrow(RangeError);
    expect(() => pool.submit(forever, [], { softTimeout: 900, timeout: 500 })).toThrow(RangeError);
    expect(pool.getStatistics().tasksReceived).toBe(0);
  });

  it("throws RangeError at submit when softTimeout is not less than the pool's default timeout", () => {
    const { pool } = makePool({ maxWorkers: 1, timeout: 500 });
    expect(() => pool.submit(forever, [], { softTimeout: 500 })).toThrow(RangeError);
  });
});
