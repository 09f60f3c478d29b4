/**
 * getStatistics() (docs/api.md "Statistics"): the eight required keys, exact after settling.
 */
import { describe, expect, test } from 'vitest';
import * as tasks from './fixtures/core/tasks.mjs';
import { isAlive, makePool, waitFor, gate, nextEvent, record, started } from './helpers/index.js';

const REQUIRED_KEYS = [
  'tasksReceived',
  'tasksLaunched',
  'tasksFailed',
  'workerProcessesCreated',
  'maxWorkersBusyConcurrently',
  'workerProcessesStillAlive',
  'workerProcessesIdle',
  'workerProcessesBusy',
] as const;

describe('getStatistics', () => {
  test('statistics are a plain object with the eight required numeric keys', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    await pool.ready();
    const stats = pool.getStatistics();
    expect(Object.getPrototypeOf(stats)).toBe(Object.prototype);
    for (const key of REQUIRED_KEYS) expect(typeof stats[key], key).toBe('number');
  });

  test('after one task settles the statistics are exact', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    await pool.ready();
    expect(await pool.submit(tasks.add, [1, 1])).toBe(2);
    // Read right after the await: counters are updated before the future settles.
    expect(pool.getStatistics()).toMatchObject({
      tasksReceived: 1,
      tasksLaunched: 1,
      tasksFailed: 0,
      workerProcessesCreated: 2,
      maxWorkersBusyConcurrently: 1,
      workerProcessesStillAlive: 2,
      workerProcessesIdle: 2,
      workerProcessesBusy: 0,
    });
  });

  test('a running task is counted as busy while it runs', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    await pool.ready();
    const g = gate();
    const future = pool.submit(tasks.block, [g.path]);
    await started(future);
    expect(pool.getStatistics()).toMatchObject({
      tasksReceived: 1,
      tasksLaunched: 1,
      workerProcessesBusy: 1,
      workerProcessesIdle: 1,
      workerProcessesStillAlive: 2,
    });
    g.open();
    await future;
    expect(pool.getStatistics()).toMatchObject({ workerProcessesBusy: 0, workerProcessesIdle: 2 });
  });

  test('50 failing and 50 succeeding tasks are counted exactly', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const futures = Array.from({ length: 100 }, (_, i) =>
      i % 2 === 0 ? pool.submit(tasks.fail, [`no ${i}`]) : pool.submit(tasks.add, [i, 0]),
    );
    const outcomes = await Promise.allSettled(futures);
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(50);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(50);
    expect(pool.getStatistics()).toMatchObject({
      tasksReceived: 100,
      tasksLaunched: 100,
      tasksFailed: 50,
      workerProcessesCreated: 2,
      workerProcessesStillAlive: 2,
      workerProcessesBusy: 0,
    });
  });

  test('with minWorkers 5 and maxWorkers 10, a burst busies all ten and idle workers above five retire', async () => {
    const { pool } = makePool({ minWorkers: 5, maxWorkers: 10, idleTimeout: 300 });
    const exits = record(pool, 'workerExit');
    const g = gate();
    const futures = Array.from({ length: 10 }, (_, i) => pool.submit(tasks.block, [g.path, i]));
    // All ten run at once (each blocks until the gate opens).
    await Promise.all(futures.map((f) => started(f)));
    expect(pool.getStatistics()).toMatchObject({
      tasksReceived: 10,
      tasksLaunched: 10,
      workerProcessesBusy: 10,
      workerProcessesIdle: 0,
      maxWorkersBusyConcurrently: 10,
    });
    g.open();
    expect(await Promise.all(futures)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

    await waitFor(() => exits.filter((e) => e.reason === 'idle').length >= 5, {
      timeoutMs: 10_000,
      what: 'five idle retirements',
    });
    const idleExits = exits.filter((e) => e.reason === 'idle');
    expect(idleExits).toHaveLength(5);
    for (const exit of idleExits) expect(isAlive(exit.pid)).toBe(false);
    expect(exits.filter((e) => e.reason !== 'idle')).toEqual([]);
    await waitFor(() => pool.getStatistics().workerProcessesStillAlive === 5, {
      what: 'five workers alive',
    });
    expect(pool.getStatistics()).toMatchObject({
      tasksReceived: 10,
      tasksLaunched: 10,
      tasksFailed: 0,
      workerProcessesCreated: 10,
      maxWorkersBusyConcurrently: 10,
      workerProcessesStillAlive: 5,
      workerProcessesIdle: 5,
      workerProcessesBusy: 0,
    });
  });

  test('a timed-out task counts as failed once and its replacement counts as created', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    await pool.ready();
    const replaced = nextEvent(pool, 'workerStart');
    await expect(pool.submit(tasks.forever, [], { timeout: 200 })).rejects.toMatchObject({
      code: 'ERR_DEADPOOL_TIMEOUT',
    });
    expect(pool.getStatistics()).toMatchObject({
      tasksReceived: 1,
      tasksLaunched: 1,
      tasksFailed: 1,
    });
    await replaced;
    await waitFor(() => pool.getStatistics().workerProcessesIdle === 1, {
      what: 'the replacement to be idle',
    });
    expect(pool.getStatistics()).toMatchObject({
      workerProcessesCreated: 2,
      workerProcessesStillAlive: 1,
    });
  });

  test('a cancelled task is not counted as failed', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const g = gate();
    const blocker = pool.submit(tasks.block, [g.path]);
    const queued = pool.submit(tasks.add, [1, 2]);
    await started(blocker);
    expect(queued.cancel()).toBe(true);
    g.open();
    await blocker;
    await expect(queued).rejects.toMatchObject({ code: 'ERR_DEADPOOL_CANCELLED' });
    expect(pool.getStatistics()).toMatchObject({
      tasksReceived: 2,
      tasksLaunched: 1,
      tasksFailed: 0,
    });
  });

  test('all maxWorkers workers are started at construction, before any task', async () => {
    const { pool, pids } = makePool({ maxWorkers: 3 });
    await pool.ready();
    expect(pids.size).toBe(3);
    expect(pool.getStatistics()).toMatchObject({
      tasksReceived: 0,
      workerProcessesCreated: 3,
      workerProcessesStillAlive: 3,
      workerProcessesIdle: 3,
      workerProcessesBusy: 0,
    });
  });
});

describe('scaling', () => {
  test('by default minWorkers equals maxWorkers, so idle workers are kept past idleTimeout', async () => {
    const { pool, pids } = makePool({ maxWorkers: 2, idleTimeout: 100 });
    const exits = record(pool, 'workerExit');
    await pool.ready();
    await pool.submit(tasks.add, [1, 1]);
    // Several idle timeouts long.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(exits).toEqual([]);
    for (const pid of pids) expect(isAlive(pid)).toBe(true);
  });

  test('with minWorkers 0 every idle worker retires, and a new task starts a worker again', async () => {
    const { pool, pids } = makePool({ maxWorkers: 2, minWorkers: 0, idleTimeout: 200 });
    const exits = record(pool, 'workerExit');
    expect(await pool.submit(tasks.add, [1, 1])).toBe(2);
    await waitFor(() => pool.getStatistics().workerProcessesStillAlive === 0, {
      what: 'all workers to retire',
    });
    expect(exits.length).toBeGreaterThanOrEqual(1);
    for (const exit of exits) expect(exit.reason).toBe('idle');
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    const before = pids.size;
    const pid = await pool.submit(tasks.pid);
    expect(pids.has(pid)).toBe(true);
    expect(pids.size).toBeGreaterThan(before);
  });
});
