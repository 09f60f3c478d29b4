/**
 * Workers that die: killed from outside (idle or busy), by their own hand
 * (`process.exit`, SIGKILL to self, closing the IPC channel), or later, by an
 * error a finished task left behind. Each takes down at most its own task.
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DeadpoolError,
  ProcessError,
  TimeoutError,
  WorkerStartError,
  type Deadpool,
} from '../dist/index.js';
import { forever, hang, pid as pidTask, twice, waitForFile } from './fixtures/faults/basic.mjs';
import {
  disconnectSelf,
  exitWith,
  large,
  lateRejection,
  lateThrow,
  selfKill,
} from './fixtures/faults/death.mjs';
import {
  isAlive,
  killChild,
  makePool,
  nextEvent,
  record,
  rejection,
  started,
  tempDir,
  waitFor,
  within,
} from './helpers/index.js';

describe('a worker killed from outside', () => {
  it('while idle is replaced, reported as crashed, and never handed a task', async () => {
    const { pool, pids } = makePool({ maxWorkers: 2 });
    await pool.ready();
    const [victim] = [...pids];
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === victim);
    expect(killChild(victim!)).toBe(true);
    expect(await exit).toMatchObject({ pid: victim, reason: 'crashed', signal: 'SIGKILL' });

    const futures = Array.from({ length: 20 }, (_, i) => pool.submit(twice, [i]));
    const results = await Promise.all(futures);
    expect(results.map((r) => r.value)).toEqual(futures.map((_, i) => i * 2 + 1));
    expect(results.filter((r) => r.pid === victim)).toEqual([]);
    expect(futures.filter((f) => f.pid === victim)).toEqual([]);
    await waitFor(() => pool.getStatistics().workerProcessesStillAlive === 2, {
      what: 'a replacement worker',
    });
  });

  it('while idle, with tasks submitted at once after the kill, fails none of them', async () => {
    const { pool, pids } = makePool({ maxWorkers: 1 });
    await pool.ready();
    const [victim] = [...pids];
    expect(killChild(victim!)).toBe(true);
    const futures = Array.from({ length: 5 }, (_, i) => pool.submit(twice, [i]));
    const settled = await Promise.allSettled(futures);
    expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
    expect(futures.filter((f) => f.pid === victim)).toEqual([]);
  });

  it('while busy fails only its task, with a ProcessError naming pid, exit code and signal', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const busy = pool.submit(hang, [], { name: 'victim' });
    const bystander = pool.submit(twice, [21]);
    const pid = await started(busy);
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === pid);
    expect(killChild(pid)).toBe(true);
    const error = await rejection(busy);
    expect(error).toBeInstanceOf(ProcessError);
    expect(error).toMatchObject({
      code: 'ERR_DEADPOOL_PROCESS',
      pid,
      exitCode: null,
      signal: 'SIGKILL',
    });
    expect((error as Error).message).toMatch(/exit code null/);
    expect((error as Error).message).toMatch(/signal SIGKILL/);
    expect(await exit).toMatchObject({ reason: 'crashed', signal: 'SIGKILL' });
    expect((await bystander).value).toBe(43);
    const after = await pool.submit(twice, [1]);
    expect(after).toMatchObject({ value: 3 });
    expect(after.pid).not.toBe(pid);
  });

  it('while spinning in a synchronous loop fails its task with a ProcessError', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const busy = pool.submit(forever, []);
    const pid = await started(busy);
    expect(killChild(pid)).toBe(true);
    expect(await rejection(busy)).toMatchObject({
      name: 'ProcessError',
      pid,
      signal: 'SIGKILL',
      exitCode: null,
    });
    expect((await pool.submit(twice, [2])).value).toBe(5);
  });
});

describe('a worker that ends itself', () => {
  it('by process.exit(3) fails its task with a ProcessError carrying exit code 3', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const task = pool.submit(exitWith, [3]);
    const pid = await started(task);
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === pid);
    const error = await rejection(task);
    expect(error).toBeInstanceOf(ProcessError);
    expect(error).toMatchObject({ pid, exitCode: 3, signal: null });
    expect((error as Error).message).toMatch(/exit code 3/);
    expect(await exit).toMatchObject({ reason: 'crashed', exitCode: 3 });
    expect((await pool.submit(twice, [3])).value).toBe(7);
  });

  // A large result is written out in the background; the task after it, already
  // waiting in the worker, must not start (and end the process) before it is out.
  it.each([
    ['SIGKILL to itself', (pool: Deadpool) => pool.submit(selfKill, []), { signal: 'SIGKILL' }],
    ['process.exit(7)', (pool: Deadpool) => pool.submit(exitWith, [7]), { exitCode: 7 }],
  ] as const)(
    'by %s in the task after a large result: that result arrives, only the next task fails',
    async (_, submitNext, death) => {
      const { pool } = makePool({ maxWorkers: 1 });
      // Short tasks of the same module first: the pool pipelines once it has seen
      // tasks run short, and only tasks whose module the worker has loaded.
      for (let i = 0; i < 20; i++) await pool.submit(large, [1]);
      const big = pool.submit(large, [8_000_000]);
      const ender = submitNext(pool);
      expect((await big).length).toBe(8_000_000);
      expect(await rejection(ender)).toMatchObject({ name: 'ProcessError', ...death });
      expect(big.pid).toBe(ender.pid);
    },
  );

  it('by SIGKILL to itself fails its task with a ProcessError carrying the signal', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const task = pool.submit(selfKill, []);
    const pid = await started(task);
    expect(await rejection(task)).toMatchObject({
      name: 'ProcessError',
      pid,
      signal: 'SIGKILL',
      exitCode: null,
    });
    expect((await pool.submit(twice, [3])).value).toBe(7);
  });

  it('by closing its own IPC channel fails its task with a clear pool error, and the pool goes on', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const task = pool.submit(disconnectSelf, [], { timeout: 15_000 });
    const pid = await started(task);
    const error = await rejection(task);
    expect(error).toBeInstanceOf(DeadpoolError);
    expect(error).not.toBeInstanceOf(TimeoutError);
    expect((error as Error).message.length).toBeGreaterThan(10);
    await waitFor(() => !isAlive(pid), { what: `worker ${pid} to exit` });
    const after = await pool.submit(twice, [4]);
    expect(after.value).toBe(9);
    expect(after.pid).not.toBe(pid);
  });

  it('twenty times over (a poison task) gives exactly twenty ProcessErrors, bounded forks, and a working pool', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    await pool.ready();
    const poison = Array.from({ length: 20 }, () => pool.submit(exitWith, [1]));
    const settled = await Promise.allSettled(poison);
    const reasons = settled.map((s) => (s.status === 'rejected' ? s.reason : s));
    expect(reasons.filter((r) => r instanceof ProcessError)).toHaveLength(20);
    expect(reasons.filter((r) => r instanceof WorkerStartError)).toEqual([]);
    const { workerProcessesCreated } = pool.getStatistics();
    expect(workerProcessesCreated).toBeLessThanOrEqual(20 + 2 + 3);
    const after = await Promise.all(Array.from({ length: 10 }, (_, i) => pool.submit(twice, [i])));
    expect(after.map((r) => r.value)).toEqual(after.map((_, i) => i * 2 + 1));
  });
});

describe('an error left behind by a task that already returned', () => {
  for (const [what, fixtureTask] of [
    ['an unhandled rejection', lateRejection],
    ['an uncaught exception', lateThrow],
  ] as const) {
    it(`(${what}) retires the worker, keeps the returned result, and the pool goes on`, async () => {
      const { pool } = makePool({ maxWorkers: 1 });
      const task = pool.submit(fixtureTask, ['returned', 100]);
      const pid = await started(task);
      const exit = nextEvent(pool, 'workerExit', (e) => e.pid === pid);
      expect(await task).toBe('returned');
      await exit;
      await waitFor(() => !isAlive(pid), { what: `worker ${pid} to exit` });
      const after = await pool.submit(twice, [5]);
      expect(after.value).toBe(11);
      expect(after.pid).not.toBe(pid);
    });
  }
});

describe('cancelAndKill right after completion', () => {
  it('returns false and never kills the next task already running on the same worker', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const exits = record(pool, 'workerExit');
    const release = join(tempDir(), 'release');
    const first = pool.submit(pidTask, []);
    const second = pool.submit(waitForFile, [release]);
    const firstPid = await first;
    expect(first.cancelAndKill()).toBe(false);
    const secondPid = await started(second);
    expect(secondPid).toBe(firstPid);
    expect(first.cancelAndKill()).toBe(false);
    expect(first.cancelled()).toBe(false);
    writeFileSync(release, '');
    expect(await within(second, 10_000, 'the second task')).toBe(firstPid);
    expect(exits).toEqual([]);
    expect(isAlive(firstPid)).toBe(true);
  });
});

describe('a done callback that throws', () => {
  it('is reported as a process warning, later callbacks still run, and the pool goes on', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const warned = new Promise<Error>((resolve) => {
      const onWarning = (warning: Error): void => {
        if (
          !String(warning.message).includes('done callback boom') &&
          !String(warning.stack).includes('done callback boom')
        )
          return;
        process.off('warning', onWarning);
        resolve(warning);
      };
      process.on('warning', onWarning);
    });
    const task = pool.submit(twice, [1]);
    let laterCalled = 0;
    task.addDoneCallback(() => {
      throw new Error('done callback boom');
    });
    task.addDoneCallback(() => void laterCalled++);
    expect((await task).value).toBe(3);
    await within(warned, 5_000, 'the warning');
    await waitFor(() => laterCalled === 1, { what: 'the later done callback' });
    const after = await pool.submit(twice, [2]);
    expect(after.value).toBe(5);
    expect(task.cancelled()).toBe(false);
  });
});
