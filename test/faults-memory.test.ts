/**
 * Memory: RSS recycling after a task (maxWorkerMemoryBytes), measured on the
 * worker and not on the parent, and the hard cap while a task runs
 * (memoryLimitBytes).
 */
import { describe, expect, it } from 'vitest';
import { MemoryLimitError, ProcessError } from '../dist/index.js';
import { leak, runaway, runawayGrandchild, tiny } from './fixtures/faults/memory.mjs';
import {
  descendantsOf,
  expectAllGone,
  isAlive,
  makePool,
  waitFor,
  killAfterTest,
  nextEvent,
  record,
  rejection,
  started,
  within,
} from './helpers/index.js';

const MB = 1_000_000;

describe('maxWorkerMemoryBytes', () => {
  // Ten forks and 1.5 GB of allocations in a row: about 15 s alone on 2 cores, much more under load.
  it(
    'retires a worker that leaked 150 MB after its task, for 10 leaks over 20 tasks',
    { timeout: 120_000 },
    async () => {
      const { pool } = makePool({ maxWorkers: 1, maxWorkerMemoryBytes: 100 * MB });
      const exits = record(pool, 'workerExit');
      const futures = Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0 ? pool.submit(tiny, []) : pool.submit(leak, [150]),
      );
      const pids = await Promise.all(futures);
      expect(new Set(pids).size).toBeGreaterThanOrEqual(10);
      // Every leaking task's worker is gone after its task: no leak ran on a worker that had already leaked.
      for (let i = 1; i < 20; i += 2) expect(pids.indexOf(pids[i]!, i + 1)).toBe(-1);
      await waitFor(() => exits.filter((e) => e.reason === 'memory').length >= 10, {
        what: "ten 'memory' worker exits",
      });
      expect(exits.filter((e) => e.reason !== 'memory')).toEqual([]);
    },
  );

  it('does not recycle children because the parent holds 300 MB', async () => {
    const ballast = Buffer.alloc(300 * MB).fill(1);
    const { pool } = makePool({ maxWorkers: 1, maxWorkerMemoryBytes: 200 * MB });
    const exits = record(pool, 'workerExit');
    const pids: number[] = [];
    for (let i = 0; i < 20; i++) pids.push(await pool.submit(tiny, []));
    expect(new Set(pids).size).toBe(1);
    expect(exits).toEqual([]);
    expect(ballast[ballast.length - 1]).toBe(1);
  });
});

describe('memoryLimitBytes', () => {
  it('kills a runaway allocation with MemoryLimitError carrying rss, and the next task runs', async () => {
    const { pool } = makePool({ maxWorkers: 1, memoryLimitBytes: 200 * MB });
    const task = pool.submit(runaway, [10, 3_000]);
    const pid = await started(task);
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === pid, 20_000);
    const error = await rejection(task);
    expect(error).toBeInstanceOf(MemoryLimitError);
    expect(error).toBeInstanceOf(ProcessError);
    expect(error).toMatchObject({ code: 'ERR_DEADPOOL_MEMORY_LIMIT', pid, signal: 'SIGKILL' });
    const { rss } = error as MemoryLimitError;
    expect(rss).toBeGreaterThanOrEqual(200 * MB);
    expect(rss).toBeLessThan(3_000 * MB);
    expect(await exit).toMatchObject({ reason: 'memoryLimit' });
    await waitFor(() => !isAlive(pid), { what: `worker ${pid} to die` });
    const after = await pool.submit(tiny, []);
    expect(after).not.toBe(pid);
  });

  it('counts the whole process tree: a grandchild that allocates without end gets the tree killed', async () => {
    const { pool } = makePool({ maxWorkers: 1, memoryLimitBytes: 200 * MB });
    const task = pool.submit(runawayGrandchild, []);
    const pid = await started(task);
    const grandchild = await waitFor(() => descendantsOf(pid)[0], {
      what: 'the grandchild to start',
    });
    killAfterTest([grandchild]);
    const error = await within(rejection(task), 20_000, 'the task to be killed');
    expect(error).toBeInstanceOf(MemoryLimitError);
    expect((error as MemoryLimitError).rss).toBeGreaterThanOrEqual(200 * MB);
    await expectAllGone([pid, grandchild], 3_000);
    expect(await pool.submit(tiny, [])).not.toBe(pid);
  });

  it('leaves tasks that stay under the limit alone', async () => {
    const { pool } = makePool({ maxWorkers: 1, memoryLimitBytes: 400 * MB });
    const exits = record(pool, 'workerExit');
    const first = await pool.submit(leak, [50]);
    const second = await pool.submit(tiny, []);
    expect(second).toBe(first);
    expect(exits).toEqual([]);
  });
});
