/**
 * Kernel containment on this host (a cgroup v1/v2 hybrid, as root): a task's
 * daemons (setsid plus a double fork, out of the worker's process group and
 * tree) are gone after every way a worker ends, and the pool's cgroups are
 * removed. Daemons are found by the pid file they write (pid and start time).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProcessError, TimeoutError } from '../dist/index.js';
import { daemons } from './fixtures/containment/tasks.mjs';
import {
  daemonAlive,
  daemonsStarted,
  deadpoolCgroups,
  makePool,
  nextEvent,
  rejection,
  started,
  tempDir,
  waitFor,
  type Daemon,
} from './helpers/index.js';

function allGone(list: Daemon[], what: string): Promise<unknown> {
  return waitFor(() => list.every((d) => !daemonAlive(d)), {
    timeoutMs: 3_000,
    what: `${what}: daemons ${list
      .filter(daemonAlive)
      .map((d) => d.pid)
      .join(', ')} gone`,
  });
}

function pidFile(): string {
  return join(tempDir(), 'daemons.pids');
}

describe("containment 'auto' on this host", () => {
  it('is the kernel: cgroups, with memory and process limits', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(pool.containment).toEqual({
      kind: 'cgroup',
      limits: ['memory', 'processes'],
      reason: '',
    });
  });

  it('cancelAndKill takes 100 daemons', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const file = pidFile();
    const task = pool.submit(daemons, [file, 100, 'spin']);
    const list = await daemonsStarted(file, 100);
    expect(list.filter(daemonAlive)).toHaveLength(100);
    task.cancelAndKill();
    await allGone(list, 'after cancelAndKill');
  });

  it('the timeout itself takes the daemons', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const file = pidFile();
    const task = pool.submit(daemons, [file, 3, 'spin'], { timeout: 1_500 });
    const list = await daemonsStarted(file, 3);
    expect(await rejection(task)).toBeInstanceOf(TimeoutError);
    await allGone(list, 'after the timeout');
  });

  it("a 'kill' abort takes the daemons", async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const file = pidFile();
    const controller = new AbortController();
    const task = pool.submit(daemons, [file, 3, 'spin'], { signal: controller.signal });
    const list = await daemonsStarted(file, 3);
    controller.abort();
    await rejection(task);
    await allGone(list, 'after the abort');
  });

  it('an outside SIGKILL of the worker takes the daemons when the pool sees the exit', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const file = pidFile();
    const task = pool.submit(daemons, [file, 3, 'spin']);
    const worker = await started(task);
    const list = await daemonsStarted(file, 3);
    process.kill(worker, 'SIGKILL'); // a live child of this process
    expect(await rejection(task)).toBeInstanceOf(ProcessError);
    await allGone(list, 'after the outside SIGKILL');
  });

  it('process.exit() in the task takes the daemons', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const file = pidFile();
    const error = await rejection(pool.submit(daemons, [file, 3, 'exit']));
    expect(error).toMatchObject({ exitCode: 3 });
    await allGone(await daemonsStarted(file, 3), 'after process.exit()');
  });

  it("a worker's retirement (maxTasksPerChild) takes the daemons its task left", async () => {
    const { pool } = makePool({ maxWorkers: 1, maxTasksPerChild: 1 });
    const file = pidFile();
    const exit = nextEvent(pool, 'workerExit');
    const worker = await pool.submit(daemons, [file, 3, 'return']);
    const list = await daemonsStarted(file, 3);
    expect(await exit).toMatchObject({ pid: worker, reason: 'maxTasks', exitCode: 0 });
    await allGone(list, 'after the retirement');
  });

  it('shutdown() takes the daemons and leaves none of the pool’s cgroups', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const file = pidFile();
    await pool.submit(daemons, [file, 5, 'return']);
    const list = await daemonsStarted(file, 5);
    expect(deadpoolCgroups(process.pid).length).toBeGreaterThan(0);
    await pool.shutdown();
    expect(list.filter(daemonAlive)).toEqual([]);
    expect(deadpoolCgroups(process.pid)).toEqual([]);
  });
});

describe("containment 'process-group' keeps today's reach", () => {
  it('says so, and a daemon outlives the timeout (the README says so)', async () => {
    const { pool } = makePool({ maxWorkers: 1, containment: 'process-group' });
    expect(pool.containment).toEqual({
      kind: 'process-group',
      limits: [],
      reason: "containment is 'process-group'",
    });
    const file = pidFile();
    const task = pool.submit(daemons, [file, 1, 'spin'], { timeout: 1_000 });
    const list = await daemonsStarted(file, 1);
    expect(await rejection(task)).toBeInstanceOf(TimeoutError);
    expect(list.every(daemonAlive)).toBe(true); // killed after the test by its pid and start time
    expect(deadpoolCgroups(process.pid)).toEqual([]);
  });
});
