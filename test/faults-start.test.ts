/**
 * Workers that cannot start: an initializer that throws, a bad execArgv.
 * Failures are bounded (back-off, then WorkerStartError with the last failure
 * as `cause`), and the pool recovers by itself once workers start again.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkerStartError } from '../dist/index.js';
import { twice } from './fixtures/faults/basic.mjs';
import { alwaysThrow, untilFileExists } from './fixtures/faults/init.mjs';
import { makePool, waitFor, record, rejection, tempDir, within } from './helpers/index.js';

describe('an initializer that always throws', () => {
  it('rejects ready() with WorkerStartError whose cause is the initializer failure', async () => {
    const { pool } = makePool({ maxWorkers: 1, initializer: alwaysThrow });
    const starts = record(pool, 'workerStart');
    const error = await within(rejection(pool.ready()), 20_000, 'ready() to reject');
    const lastStarted = starts.at(-1)?.pid;
    expect(error).toBeInstanceOf(WorkerStartError);
    expect(error).toMatchObject({ code: 'ERR_DEADPOOL_WORKER_START' });
    const cause = (error as WorkerStartError).cause as Error | undefined;
    expect(cause).toBeInstanceOf(Error);
    const failedIn = /initializer failed in worker (\d+)/.exec(String(cause?.message));
    expect(failedIn).not.toBeNull();
    // The last failure: the worker started most recently before ready() rejected.
    expect(Number(failedIn![1])).toBe(lastStarted);
  });

  it('rejects a waiting future with WorkerStartError after a bounded number of forks', async () => {
    const { pool } = makePool({ maxWorkers: 2, initializer: alwaysThrow });
    const starts = record(pool, 'workerStart');
    const exits = record(pool, 'workerExit');
    const task = pool.submit(twice, [1]);
    const error = await within(rejection(task), 20_000, 'the task to reject');
    expect(error).toBeInstanceOf(WorkerStartError);
    expect(String(((error as Error).cause as Error | undefined)?.message)).toMatch(
      /initializer failed in worker/,
    );
    expect(starts.length).toBeGreaterThanOrEqual(1);
    expect(starts.length).toBeLessThanOrEqual(12);
    expect(pool.getStatistics().workerProcessesCreated).toBeLessThanOrEqual(12);
    expect(exits.length).toBeGreaterThanOrEqual(1);
    expect(exits.filter((e) => e.reason !== 'startFailed')).toEqual([]);
  });

  it('keeps rejecting later tasks with WorkerStartError, not with a hang', async () => {
    const { pool } = makePool({ maxWorkers: 1, initializer: alwaysThrow });
    await within(rejection(pool.ready()), 20_000, 'ready() to reject');
    const later = pool.submit(twice, [2]);
    expect(await within(rejection(later), 20_000, 'a later task to reject')).toBeInstanceOf(
      WorkerStartError,
    );
  });
});

describe('an initializer that is fixed while the pool runs', () => {
  it('lets the pool recover by itself: new tasks succeed once workers start again', async () => {
    const marker = join(tempDir(), 'fixed');
    const { pool } = makePool({ maxWorkers: 1, initializer: untilFileExists, initargs: [marker] });
    const exits = record(pool, 'workerExit');
    const early = pool.submit(twice, [1]);
    expect(await within(rejection(early), 20_000, 'the early task to reject')).toBeInstanceOf(
      WorkerStartError,
    );
    expect(exits.some((e) => e.reason === 'startFailed')).toBe(true);
    writeFileSync(marker, '');
    expect(existsSync(marker)).toBe(true);
    const later = pool.submit(twice, [2]);
    expect((await within(later, 20_000, 'a task after the fix')).value).toBe(5);
    const more = await Promise.all([3, 4, 5].map((n) => pool.submit(twice, [n])));
    expect(more.map((r) => r.value)).toEqual([7, 9, 11]);
  });
});

describe('a bad execArgv', () => {
  it('rejects ready() and waiting futures with WorkerStartError', async () => {
    const { pool } = makePool({ maxWorkers: 1, execArgv: ['--no-such-flag'] });
    const task = pool.submit(twice, [1]);
    expect(await within(rejection(pool.ready()), 20_000, 'ready() to reject')).toBeInstanceOf(
      WorkerStartError,
    );
    expect(await within(rejection(task), 20_000, 'the task to reject')).toBeInstanceOf(
      WorkerStartError,
    );
    await waitFor(() => pool.getStatistics().workerProcessesCreated >= 5, {
      timeoutMs: 10_000,
      what: 'five attempts',
    });
    expect(pool.getStatistics().workerProcessesCreated).toBeLessThanOrEqual(12);
  });
});
