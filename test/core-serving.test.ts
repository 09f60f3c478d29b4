/**
 * Serving requests (docs/api.md "submit", "Statistics", "Options"): queue
 * deadlines, cooperative aborts, worker output routed to a callback, and the
 * workers' states visible in the statistics.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CancelledError, TimeoutError, type DeadpoolStatistics } from '../dist/index.js';
import { chatter, finGate, ignoreAbort, noticeAbort } from './fixtures/core/serving.mjs';
import { block, fail, forever, mark, pid, sleep } from './fixtures/core/tasks.mjs';
import {
  gate,
  killChild,
  makePool,
  nextEvent,
  readJson,
  record,
  rejection,
  started,
  tempDir,
  waitFor,
} from './helpers/index.js';

describe('queueTimeout', () => {
  it('fails a task not handed to a worker in time with TimeoutError phase queue; it never runs and no worker is harmed', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const exits = record(pool, 'workerExit');
    const door = gate();
    const blocker = pool.submit(block, [door.path, 'first']);
    const blockerPid = await started(blocker);
    const marker = join(tempDir(), 'ran');
    const waiting = pool.submit(mark, [marker], { queueTimeout: 100, name: 'late' });
    const error = await rejection(waiting);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'ERR_DEADPOOL_TIMEOUT', phase: 'queue' });
    expect((error as Error).message).toMatch(/task \d+ \(late\) timed out after waiting 100 ms/);
    expect(pool.getStatistics()).toMatchObject({
      backlogSize: 0,
      tasksTimedOut: 1,
      tasksFailed: 1,
    });
    door.open();
    expect(await blocker).toBe('first');
    expect(await pool.submit(pid, [])).toBe(blockerPid);
    expect(existsSync(marker)).toBe(false);
    expect(exits).toEqual([]);
    expect(pool.getStatistics()).toMatchObject({ tasksLaunched: 2, tasksCompleted: 2 });
  });

  it('takes its default from the pool, and submit can override it', async () => {
    const { pool } = makePool({ maxWorkers: 1, queueTimeout: 80 });
    await pool.ready(); // worker start-up is queue time too
    const door = gate();
    const blocker = pool.submit(block, [door.path, 'b']);
    await started(blocker);
    const byDefault = pool.submit(pid, []);
    const patient = pool.submit(pid, [], { queueTimeout: 20_000 });
    expect(await rejection(byDefault)).toMatchObject({ phase: 'queue' });
    door.open();
    await blocker;
    expect(await patient).toBeTypeOf('number');
  });

  it('does not limit a task that started in time', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    await pool.ready();
    expect(await pool.submit(sleep, [300, 'slept'], { queueTimeout: 50 })).toBe('slept');
  });

  it('gives a hard timeout phase run', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(await rejection(pool.submit(forever, [], { timeout: 200 }))).toMatchObject({
      phase: 'run',
    });
  });

  it('refuses a queueTimeout that is not a positive number', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.submit(pid, [], { queueTimeout: 0 })).toThrow(
      /Expected `queueTimeout` to be a finite number of milliseconds > 0, got `0` \(number\)/,
    );
  });
});

describe("abort: 'cooperative'", () => {
  it('cancels the future at once, aborts the task signal with the same reason, and keeps the worker', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const exits = record(pool, 'workerExit');
    const marker = join(tempDir(), 'reason.json');
    const controller = new AbortController();
    const future = pool.submit(noticeAbort, [marker], {
      signal: controller.signal,
      abort: 'cooperative',
    });
    const workerPid = await started(future);
    const reason = new RangeError('client went away');
    controller.abort(reason);
    expect(future.cancelled()).toBe(true);
    const error = await rejection(future);
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as Error).cause).toBe(reason);
    expect(await readJson(marker, { what: 'the task to notice its abort' })).toMatchObject({
      name: 'RangeError',
      message: 'client went away',
      pid: workerPid,
    });
    expect(await pool.submit(pid, [])).toBe(workerPid);
    expect(exits).toEqual([]);
    expect(pool.getStatistics()).toMatchObject({ tasksCancelled: 1, tasksFailed: 0 });
  });

  it('kills a task that ignores the abort when its hard timeout passes; the future stays cancelled', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const controller = new AbortController();
    const future = pool.submit(ignoreAbort, [], {
      signal: controller.signal,
      abort: 'cooperative',
      timeout: 600,
    });
    const workerPid = await started(future);
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === workerPid);
    controller.abort();
    expect(await rejection(future)).toBeInstanceOf(CancelledError);
    expect(await exit).toMatchObject({ reason: 'timeout', signal: 'SIGKILL' });
    expect(future.cancelled()).toBe(true);
    expect(pool.getStatistics()).toMatchObject({
      tasksCancelled: 1,
      tasksFailed: 0,
      tasksTimedOut: 0,
    });
    expect(await pool.submit(pid, [])).not.toBe(workerPid);
  });

  it('cancels a waiting task without touching any worker', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const door = gate();
    const blocker = pool.submit(block, [door.path, 'b']);
    await started(blocker);
    const controller = new AbortController();
    const waiting = pool.submit(pid, [], { signal: controller.signal, abort: 'cooperative' });
    controller.abort();
    expect(await rejection(waiting)).toBeInstanceOf(CancelledError);
    door.open();
    expect(await blocker).toBe('b');
  });

  it("leaves 'kill' as the default: an aborted running task's worker is killed", async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const controller = new AbortController();
    const future = pool.submit(forever, [], { signal: controller.signal });
    const workerPid = await started(future);
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === workerPid);
    controller.abort();
    expect(await rejection(future)).toBeInstanceOf(CancelledError);
    expect(await exit).toMatchObject({ reason: 'killed' });
  });

  it('refuses an unknown abort mode', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.submit(pid, [], { abort: 'politely' as never })).toThrow(
      /Expected `abort` to be 'kill' or 'cooperative', got `politely` \(string\)/,
    );
  });
});

describe('onWorkerOutput', () => {
  it('receives stdout and stderr a line at a time, with the pid and the task name', async () => {
    const lines: { pid: number; stream: string; line: string; taskName: string | undefined }[] = [];
    const { pool } = makePool({ maxWorkers: 1, onWorkerOutput: (info) => lines.push(info) });
    const workerPid = await pool.submit(chatter, [['one', 'two']], { name: 'talker' });
    // The two pipes are read independently: wait for both.
    await waitFor(
      () =>
        lines.some((l) => l.stream === 'stderr') &&
        lines.filter((l) => l.stream === 'stdout').length >= 2,
      { what: 'the stdout and stderr lines' },
    );
    expect(lines.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['one', 'two']);
    expect(lines.find((l) => l.stream === 'stderr')).toEqual({
      pid: workerPid,
      stream: 'stderr',
      line: 'to stderr',
      taskName: 'talker',
    });
    // The last line has no newline: it arrives when the worker's stdout ends.
    await pool.shutdown();
    expect(lines.at(-1)).toMatchObject({ stream: 'stdout', line: 'no newline at the end' });
  });

  it('turns a throwing onWorkerOutput into a warning; the pool goes on', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const { pool } = makePool({
        maxWorkers: 1,
        onWorkerOutput: () => {
          throw new Error('logger down');
        },
      });
      expect(await pool.submit(chatter, [['x']])).toBeTypeOf('number');
      await waitFor(() => warnings.some((w) => /onWorkerOutput threw: Error: logger down/.test(w)));
      expect(await pool.submit(pid, [])).toBeTypeOf('number');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('still keeps the stderr tail for a ProcessError', async () => {
    const { pool } = makePool({ maxWorkers: 1, onWorkerOutput: () => {} });
    const error = await rejection(
      pool.submit(
        (message: string) => {
          console.error(message);
          process.exit(5);
        },
        ['last words on stderr'],
      ),
    );
    expect(error).toMatchObject({ exitCode: 5, stderr: expect.stringContaining('last words') });
  });
});

describe('workers by state in the statistics', () => {
  function balanced(s: DeadpoolStatistics): boolean {
    return (
      s.workerProcessesStillAlive ===
      s.workerProcessesStarting +
        s.workerProcessesIdle +
        s.workerProcessesBusy +
        s.workerProcessesRetiring
    );
  }

  it('shows starting workers at construction and after a kill, and retiring ones during a finalizer', async () => {
    const door = gate();
    const { pool, pids } = makePool({ maxWorkers: 2, finalizer: finGate, finalargs: [door.path] });
    expect(pool.getStatistics()).toMatchObject({
      workerProcessesStarting: 2,
      workerProcessesStillAlive: 2,
    });
    await pool.ready();
    expect(pool.getStatistics()).toMatchObject({
      workerProcessesStarting: 0,
      workerProcessesIdle: 2,
    });

    const [victim] = [...pids];
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === victim);
    expect(killChild(victim!)).toBe(true);
    await exit;
    await waitFor(() => pool.getStatistics().workerProcessesStarting === 1, {
      what: 'the replacement to be seen starting',
    });
    expect(pool.getStatistics().workerProcessesStillAlive).toBe(2);
    await waitFor(() => pool.getStatistics().workerProcessesIdle === 2);

    const recycled = pool.recycleWorkers();
    await waitFor(() => pool.getStatistics().workerProcessesRetiring === 2, {
      what: 'two workers retiring in their finalizer',
    });
    expect(balanced(pool.getStatistics())).toBe(true);
    door.open();
    await recycled;
    expect(pool.getStatistics()).toMatchObject({ workerProcessesRetiring: 0 });
  });

  it('keeps alive = starting + idle + busy + retiring at every observation through churn', async () => {
    const { pool } = makePool({ maxWorkers: 2, maxTasksPerChild: 1 });
    const seen: DeadpoolStatistics[] = [];
    let sampling = true;
    const sample = (): void => {
      seen.push(pool.getStatistics());
      if (sampling) setImmediate(sample);
    };
    sample();
    for (const event of ['workerStart', 'workerExit'] as const) {
      pool.on(event, () => seen.push(pool.getStatistics()));
    }
    const futures = Array.from({ length: 12 }, (_, i) =>
      i % 4 === 3 ? pool.submit(fail, ['boom']) : pool.submit(pid, []),
    );
    await Promise.allSettled(futures);
    sampling = false;
    expect(seen.length).toBeGreaterThan(12);
    expect(seen.filter((s) => !balanced(s))).toEqual([]);
    expect(seen.some((s) => s.workerProcessesStarting > 0)).toBe(true);
    expect(seen.every((s) => s.workerProcessesBusy <= 2)).toBe(true);
  });
});
