/**
 * Cancelling running and waiting tasks: cancelAndKill() (docs/api.md "Future") and an
 * AbortSignal passed to submit (docs/api.md "submit").
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CancelledError } from '../dist/index.js';
import * as tasks from './fixtures/core/tasks.mjs';
import {
  isAlive,
  makePool,
  waitFor,
  gate,
  nextEvent,
  rejection,
  started,
  tempDir,
} from './helpers/index.js';

describe('cancelAndKill', () => {
  test('cancelAndKill() of a running task kills its worker, cancels the future and the worker is replaced', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const future = pool.submit(tasks.forever);
    const pid = await started(future);
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === pid);
    const replacement = nextEvent(pool, 'workerStart', (e) => e.pid !== pid);
    expect(future.cancelAndKill()).toBe(true);
    expect(await rejection(future)).toBeInstanceOf(CancelledError);
    expect(future.cancelled()).toBe(true);
    expect(future.done()).toBe(true);
    expect(await exit).toMatchObject({ pid, reason: 'killed', signal: 'SIGKILL' });
    await waitFor(() => !isAlive(pid), { timeoutMs: 2_000, what: `worker ${pid} to be gone` });
    const { pid: fresh } = await replacement;
    expect(await pool.submit(tasks.pid)).toBe(fresh);
  });

  test('cancelAndKill() of a finished task returns false and kills nothing', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const future = pool.submit(tasks.pid);
    const pid = await future;
    // The worker has moved on to another task: it must not be touched.
    const g = gate();
    const next = pool.submit(tasks.block, [g.path, 'untouched']);
    expect(await started(next)).toBe(pid);
    expect(future.cancelAndKill()).toBe(false);
    expect(future.cancelled()).toBe(false);
    g.open();
    expect(await next).toBe('untouched');
    expect(isAlive(pid)).toBe(true);
  });

  test('cancelAndKill() of a waiting task cancels it like cancel()', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const g = gate();
    const blocker = pool.submit(tasks.block, [g.path]);
    const blockerPid = await started(blocker);
    const waiting = pool.submit(tasks.add, [1, 2]);
    expect(waiting.cancelAndKill()).toBe(true);
    expect(await rejection(waiting)).toBeInstanceOf(CancelledError);
    // The busy worker was not killed.
    expect(isAlive(blockerPid)).toBe(true);
    g.open();
    await blocker;
  });
});

describe('AbortSignal', () => {
  test('aborting the signal of a waiting task cancels it with the reason as cause, and it never runs', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const g = gate();
    const blocker = pool.submit(tasks.block, [g.path]);
    await started(blocker);
    const marker = join(tempDir(), 'aborted-would-run');
    const controller = new AbortController();
    const future = pool.submit(tasks.mark, [marker], { signal: controller.signal });
    const reason = new Error('no longer wanted');
    controller.abort(reason);
    const error = await rejection(future);
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as CancelledError).cause).toBe(reason);
    expect(future.cancelled()).toBe(true);
    g.open();
    await blocker;
    await pool.submit(tasks.add, [1, 1]);
    expect(existsSync(marker)).toBe(false);
  });

  test('aborting the signal of a running task kills its worker and cancels it with the reason as cause', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const controller = new AbortController();
    const future = pool.submit(tasks.forever, [], { signal: controller.signal });
    const pid = await started(future);
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === pid);
    const reason = new Error('stop now');
    controller.abort(reason);
    const error = await rejection(future);
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as CancelledError).cause).toBe(reason);
    expect(future.cancelled()).toBe(true);
    expect((await exit).reason).toBe('killed');
    expect(await pool.submit(tasks.add, [1, 2])).toBe(3);
  });

  test('an already-aborted signal gives a future that is already cancelled', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const reason = new Error('too late');
    const future = pool.submit(tasks.add, [1, 2], { signal: AbortSignal.abort(reason) });
    expect(future.cancelled()).toBe(true);
    expect(future.done()).toBe(true);
    const error = await rejection(future);
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as CancelledError).cause).toBe(reason);
  });

  test('aborting the signal after the task finished changes nothing', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const controller = new AbortController();
    const future = pool.submit(tasks.pid, [], { signal: controller.signal });
    const pid = await future;
    controller.abort();
    expect(future.cancelled()).toBe(false);
    expect(await pool.submit(tasks.pid)).toBe(pid);
  });
});
