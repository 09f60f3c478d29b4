/**
 * The pool's events (docs/api.md, "Events"): a listener that throws becomes
 * a warning and cannot break the pool, nor keep the listeners after it from
 * being called.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WorkerExitInfo, WorkerStartInfo } from '../dist/index.js';
import { add } from './fixtures/core/tasks.mjs';
import { makePool, nextEvent, waitFor } from './helpers/index.js';

let warnings: Error[] = [];
const onWarning = (warning: Error): void => void warnings.push(warning);
beforeEach(() => {
  warnings = [];
  process.on('warning', onWarning);
});
afterEach(() => {
  process.off('warning', onWarning);
});

function listenerWarnings(): Error[] {
  return warnings.filter((w) => (w as Error & { code?: string }).code === 'DEADPOOL_LISTENER');
}

describe('a throwing event listener', () => {
  it('is a warning, and the listeners after it are still called, in order', async () => {
    const { pool } = makePool({ maxWorkers: 1, minWorkers: 0 });
    const calls: string[] = [];
    pool.on('workerStart', () => {
      calls.push('first');
      throw new Error('first listener blew up');
    });
    pool.on('workerStart', ({ pid }: WorkerStartInfo) => void calls.push(`second ${pid}`));
    pool.on('workerStart', () => {
      calls.push('third');
      throw new Error('third listener blew up');
    });
    const started = nextEvent(pool, 'workerStart');
    expect(await pool.submit(add, [1, 2])).toBe(3);
    const { pid } = await started;
    expect(calls).toEqual(['first', `second ${pid}`, 'third']);
    await waitFor(() => listenerWarnings().length === 2, { what: 'a warning per throw' });
    expect(listenerWarnings().map((w) => w.message)).toEqual([
      "a deadpool 'workerStart' listener threw: Error: first listener blew up",
      "a deadpool 'workerStart' listener threw: Error: third listener blew up",
    ]);
    // The pool is unharmed.
    expect(await pool.submit(add, [2, 2])).toBe(4);
  });

  it('added with once is called once and removed, even though it threw', async () => {
    const { pool } = makePool({ maxWorkers: 1, minWorkers: 0, maxTasksPerChild: 1 });
    let onceCalls = 0;
    const pids: number[] = [];
    pool.once('workerExit', () => {
      onceCalls++;
      throw new Error('once listener blew up');
    });
    pool.on('workerExit', ({ pid }: WorkerExitInfo) => void pids.push(pid));
    expect(await pool.submit(add, [1, 2])).toBe(3);
    await waitFor(() => pids.length === 1, { what: 'the first worker exit' });
    expect(pool.listenerCount('workerExit')).toBe(1);
    expect(await pool.submit(add, [2, 2])).toBe(4);
    await waitFor(() => pids.length === 2, { what: 'the second worker exit' });
    expect(onceCalls).toBe(1);
    await waitFor(() => listenerWarnings().length === 1, { what: 'one warning' });
  });

  it('is called with the pool as this, as EventEmitter calls it', async () => {
    const { pool } = makePool({ maxWorkers: 1, minWorkers: 0 });
    const selves: unknown[] = [];
    pool.on('workerStart', function (this: unknown) {
      selves.push(this);
    });
    const started = nextEvent(pool, 'workerStart');
    await pool.submit(add, [1, 2]);
    await started;
    expect(selves).toEqual([pool]);
  });
});
