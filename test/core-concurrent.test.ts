/**
 * Several async tasks per worker (`concurrentTasksPerWorker`, docs/api.md and
 * docs/dispatch.md): what a task owns stays its own, and a kill takes the
 * whole worker, failing the tasks beside it with a ProcessError naming the
 * task whose kill took them.
 */
import { describe, expect, test } from 'vitest';
import {
  CancelledError,
  Deadpool,
  MemoryLimitError,
  ProcessError,
  TimeoutError,
  type Future,
} from '../dist/index.js';
import * as tasks from './fixtures/core/tasks.mjs';
import { runaway } from './fixtures/faults/memory.mjs';
import { gate, makePool, rejection, started, tempDir, waitFor, within } from './helpers/index.js';

/** Tasks that block until `g` opens, named `sib0`, `sib1`, …, each confirmed running. */
async function blockers(
  pool: Deadpool,
  n: number,
  g: { path: string },
): Promise<Future<unknown>[]> {
  const futures = Array.from({ length: n }, (_, i) =>
    pool.submit(tasks.block, [g.path, i], { name: `sib${i}` }),
  );
  await Promise.all(futures.map((f) => started(f)));
  return futures;
}

/** A sibling's error: a plain ProcessError naming the task whose kill took the worker. */
function expectTakenBy(error: unknown, killer: string): void {
  expect(error).toBeInstanceOf(ProcessError);
  expect((error as Error).name).toBe('ProcessError');
  expect((error as Error).message).toContain(killer);
}

describe('concurrentTasksPerWorker', () => {
  test('4 tasks run at once on one worker: each ends only once all four have arrived', async () => {
    const { pool } = makePool({ maxWorkers: 1, concurrentTasksPerWorker: 4 });
    const dir = tempDir();
    const futures = [0, 1, 2, 3].map((i) => pool.submit(tasks.rendezvous, [dir, i, 4]));
    const pids = await within(Promise.all(futures), 15_000, 'the four tasks');
    expect(new Set(pids).size).toBe(1);
    expect(futures.map((f) => f.pid)).toEqual(pids);
  });

  test('scales up by a worker for each concurrentTasksPerWorker tasks waiting, not one per task', async () => {
    const { pool } = makePool({ maxWorkers: 1, concurrentTasksPerWorker: 4 });
    await pool.ready();
    pool.resize({ maxWorkers: 4 }); // room to grow; the pool starts workers only for its demand
    const g = gate();
    const futures = await blockers(pool, 8, g);
    expect(new Set(futures.map((f) => f.pid)).size).toBe(2);
    const stats = pool.getStatistics();
    expect(stats.workerProcessesCreated).toBe(2);
    expect(stats.workerProcessesStillAlive).toBe(2);
    g.open();
    await Promise.all(futures);
  });

  test('statistics: tasksRunning counts tasks, workerProcessesBusy counts workers with one or more', async () => {
    const { pool } = makePool({ maxWorkers: 2, concurrentTasksPerWorker: 2 });
    await pool.ready();
    const g = gate();
    const futures = await blockers(pool, 3, g);
    const stats = pool.getStatistics();
    expect(stats.tasksRunning).toBe(3);
    expect(stats.workerProcessesBusy).toBe(2);
    expect(new Set(futures.map((f) => f.pid)).size).toBe(2);
    g.open();
    await Promise.all(futures);
    expect(pool.getStatistics().tasksRunning).toBe(0);
  });

  test('a hard timeout kills the worker: the tasks beside it reject with a ProcessError naming it, and never run again', async () => {
    const { pool } = makePool({ maxWorkers: 1, concurrentTasksPerWorker: 3 });
    const g = gate();
    const siblings = await blockers(pool, 2, g);
    const slow = pool.submit(tasks.block, [gate().path], { name: 'slowpoke', timeout: 200 });
    expect(await rejection(slow)).toBeInstanceOf(TimeoutError);
    for (const sibling of siblings) expectTakenBy(await rejection(sibling), 'slowpoke');
    expect(pool.getStatistics().tasksLaunched).toBe(3);
    // The pool goes on with a fresh worker; the siblings are not run again.
    expect(await pool.submit(tasks.add, [1, 2])).toBe(3);
    g.open();
    expect(pool.getStatistics().tasksLaunched).toBe(4);
  });

  test('cancelAndKill kills the worker: the tasks beside it reject with a ProcessError naming it', async () => {
    const { pool } = makePool({ maxWorkers: 1, concurrentTasksPerWorker: 3 });
    const g = gate();
    const siblings = await blockers(pool, 2, g);
    const victim = pool.submit(tasks.block, [g.path], { name: 'victim' });
    await started(victim);
    expect(victim.cancelAndKill()).toBe(true);
    expect(await rejection(victim)).toBeInstanceOf(CancelledError);
    for (const sibling of siblings) expectTakenBy(await rejection(sibling), 'victim');
  });

  test("a 'kill' abort of its signal kills the worker: the tasks beside it reject naming it", async () => {
    const { pool } = makePool({ maxWorkers: 1, concurrentTasksPerWorker: 2 });
    const g = gate();
    const [sibling] = await blockers(pool, 1, g);
    const controller = new AbortController();
    const aborted = pool.submit(tasks.block, [g.path], {
      name: 'aborted-one',
      signal: controller.signal,
    });
    await started(aborted);
    controller.abort();
    expect(await rejection(aborted)).toBeInstanceOf(CancelledError);
    expectTakenBy(await rejection(sibling!), 'aborted-one');
  });

  test('a memoryLimitBytes kill rejects every task on the worker with MemoryLimitError', async () => {
    const { pool } = makePool({
      maxWorkers: 1,
      concurrentTasksPerWorker: 3,
      memoryLimitBytes: 200_000_000,
    });
    const g = gate();
    const siblings = await blockers(pool, 2, g);
    const hog = pool.submit(runaway, [10, 3_000], { name: 'hog' });
    const errors = await Promise.all([hog, ...siblings].map(rejection));
    for (const error of errors) expect(error).toBeInstanceOf(MemoryLimitError);
  });

  test('maxTasksPerChild counts tasks: a worker never takes more than that many in all', async () => {
    const { pool } = makePool({ maxWorkers: 1, concurrentTasksPerWorker: 4, maxTasksPerChild: 2 });
    const pids = await Promise.all(Array.from({ length: 6 }, () => pool.submit(tasks.pid, [])));
    const perWorker = new Map<number, number>();
    for (const pid of pids) perWorker.set(pid, (perWorker.get(pid) ?? 0) + 1);
    expect([...perWorker.values()]).toEqual([2, 2, 2]);
  });

  test("a task's own process.exit fails the tasks beside it with a ProcessError naming the exit", async () => {
    const { pool } = makePool({ maxWorkers: 1, concurrentTasksPerWorker: 3 });
    const g = gate();
    const siblings = await blockers(pool, 2, g);
    const quitter = pool.submit(tasks.exitAfterMark, [`${tempDir()}/quit`, 3], { name: 'quitter' });
    const errors = [await rejection(quitter), ...(await Promise.all(siblings.map(rejection)))];
    for (const error of errors) {
      expect(error).toBeInstanceOf(ProcessError);
      expect((error as Error).message).toMatch(/process\.exit\(\)/);
      expect((error as ProcessError).exitCode).toBe(3);
    }
  });

  test('softTimeout aborts the taskSignal() of its own task only', async () => {
    const { pool } = makePool({ maxWorkers: 1, concurrentTasksPerWorker: 2 });
    const g = gate();
    const other = pool.submit(tasks.progressThenBlock, ['other', g.path]);
    await started(other);
    const soft = pool.submit(tasks.cooperative, [], { softTimeout: 100, timeout: 20_000 });
    expect(await soft).toBe('TimeoutError');
    expect(soft.pid).toBe(other.pid);
    g.open();
    expect(await other).toEqual({ value: 'other', aborted: false });
  });

  test('progress goes to the future of the task that reported it', async () => {
    const { pool } = makePool({ maxWorkers: 1, concurrentTasksPerWorker: 2 });
    const g = gate();
    const seen: Record<string, unknown[]> = { a: [], b: [] };
    const futures = ['a', 'b'].map((value) =>
      pool.submit(tasks.progressThenBlock, [value, g.path], {
        onProgress: (p: unknown) => void seen[value]!.push(p),
      }),
    );
    await waitFor(() => seen.a!.length > 0 && seen.b!.length > 0, { what: 'progress of both' });
    g.open();
    const results = await Promise.all(futures);
    expect(results.map((r) => r.value)).toEqual(['a', 'b']);
    expect(futures[0]!.pid).toBe(futures[1]!.pid);
    expect(seen).toEqual({ a: ['a'], b: ['b'] });
  });

  test('shutdown with cancelFutures ends every task on the worker cancelled', async () => {
    const { pool } = makePool({ maxWorkers: 1, concurrentTasksPerWorker: 3 });
    const futures = await blockers(pool, 3, gate());
    await pool.shutdown({ wait: false, cancelFutures: true });
    for (const future of futures) expect(await rejection(future)).toBeInstanceOf(CancelledError);
  });

  test('bad values throw naming the option', () => {
    for (const bad of [0, -1, 1.5, Infinity]) {
      expect(() => new Deadpool({ concurrentTasksPerWorker: bad })).toThrow(RangeError);
      expect(() => new Deadpool({ concurrentTasksPerWorker: bad })).toThrow(
        /concurrentTasksPerWorker/,
      );
    }
    expect(() => new Deadpool({ concurrentTasksPerWorker: '2' as never })).toThrow(TypeError);
    expect(() => new Deadpool({ concurrentTasksPerWorker: '2' as never })).toThrow(
      /concurrentTasksPerWorker/,
    );
  });
});
