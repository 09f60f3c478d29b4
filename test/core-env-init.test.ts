/**
 * The worker's environment (`env`, docs/api.md "Options"), the initializer and the
 * finalizer, and recycleWorkers() (docs/api.md "Pool methods").
 */
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { ProcessError, WorkerStartError } from '../dist/index.js';
import { EXITING_MS, FINALIZED_EXIT_MS } from '../src/parent/worker.js';
import * as life from './fixtures/core/lifecycle.mjs';
import * as tasks from './fixtures/core/tasks.mjs';
import {
  isAlive,
  makePool,
  waitFor,
  gate,
  nextEvent,
  record,
  rejection,
  started,
  tempDir,
} from './helpers/index.js';

const VAR = 'DEADPOOL_CORE_ENV';

afterEach(() => {
  delete process.env[VAR];
});

describe('env', () => {
  test('with the function form, a worker sees the env of its spawn, and new values after recycleWorkers()', async () => {
    let value = 'first';
    const { pool } = makePool({ maxWorkers: 1, env: () => ({ ...process.env, [VAR]: value }) });
    expect(await pool.submit(tasks.getEnv, [VAR])).toBe('first');
    value = 'second';
    // Same worker: still the environment it was spawned with.
    expect(await pool.submit(tasks.getEnv, [VAR])).toBe('first');
    await pool.recycleWorkers();
    expect(await pool.submit(tasks.getEnv, [VAR])).toBe('second');
  });

  test('with the object form, the worker gets exactly that environment', async () => {
    process.env[VAR] = 'from the parent';
    const { pool } = makePool({
      maxWorkers: 1,
      env: { PATH: process.env.PATH ?? '', DEADPOOL_CORE_OTHER: 'only' },
    });
    expect(await pool.submit(tasks.getEnv, ['DEADPOOL_CORE_OTHER'])).toBe('only');
    // The whole environment: a parent variable not in the object is absent.
    expect(await pool.submit(tasks.getEnv, [VAR])).toBeUndefined();
  });

  test('by default a worker gets process.env as it is at its spawn', async () => {
    process.env[VAR] = 'before';
    const { pool } = makePool({ maxWorkers: 1 });
    expect(await pool.submit(tasks.getEnv, [VAR])).toBe('before');
    process.env[VAR] = 'after';
    expect(await pool.submit(tasks.getEnv, [VAR])).toBe('before');
    await pool.recycleWorkers();
    expect(await pool.submit(tasks.getEnv, [VAR])).toBe('after');
  });

  test('the env is in place before the initializer runs', async () => {
    const { pool } = makePool({
      maxWorkers: 1,
      env: () => ({ ...process.env, [VAR]: 'seen by init' }),
      initializer: life.init,
      initargs: [null, 'env-check'],
    });
    expect(await pool.submit(tasks.initState)).toMatchObject({
      label: 'env-check',
      env: 'seen by init',
    });
  });
});

describe('fork options', () => {
  test('execArgv is passed to the worker', async () => {
    const { pool } = makePool({ maxWorkers: 1, execArgv: ['--max-old-space-size=97'] });
    expect(await pool.submit(() => process.execArgv)).toContain('--max-old-space-size=97');
  });

  test("the worker runs in the pool's cwd", async () => {
    const dir = tempDir();
    const { pool } = makePool({ maxWorkers: 1, cwd: dir });
    expect(await pool.submit(tasks.cwd)).toBe(realpathSync(dir));
  });

  test("a relative cwd (from the pool's process's cwd): a function task's require resolves from it", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'answer.cjs'), 'module.exports = 42;\n');
    const { pool } = makePool({ maxWorkers: 1, cwd: relative(process.cwd(), dir) });
    expect(await pool.submit(tasks.cwd)).toBe(realpathSync(dir));
    expect(await pool.submit(() => require('./answer.cjs') as number)).toBe(42);
  });
});

describe('recycleWorkers', () => {
  test('recycleWorkers() replaces every worker and resolves when no old one is left', async () => {
    const { pool, pids } = makePool({ maxWorkers: 2 });
    await pool.ready();
    const original = [...pids];
    expect(original).toHaveLength(2);
    const exits = record(pool, 'workerExit');
    await pool.recycleWorkers();
    for (const pid of original) expect(isAlive(pid)).toBe(false);
    expect(exits.filter((e) => original.includes(e.pid)).map((e) => e.reason)).toEqual([
      'recycle',
      'recycle',
    ]);
    const after = await pool.submit(tasks.pid);
    expect(original).not.toContain(after);
    await waitFor(() => pids.size === 4, { what: 'two fresh workers' });
  });

  test('recycleWorkers() lets a busy worker finish its task first', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const g = gate();
    const busy = pool.submit(tasks.block, [g.path, 'finished']);
    const pid = await started(busy);
    let recycled = false;
    const recycling = pool.recycleWorkers().then(() => {
      recycled = true;
    });
    // The busy worker is still there, running its task.
    expect(isAlive(pid)).toBe(true);
    expect(recycled).toBe(false);
    g.open();
    expect(await busy).toBe('finished');
    await recycling;
    expect(isAlive(pid)).toBe(false);
  });
});

describe('initializer and finalizer', () => {
  test('the initializer runs once in each worker, with initargs, before its first task', async () => {
    const dir = tempDir();
    const { pool } = makePool({ maxWorkers: 1, initializer: life.init, initargs: [dir, 'hello'] });
    const pid = await pool.submit(tasks.pid);
    expect(await pool.submit(tasks.initState)).toEqual({ label: 'hello', env: undefined, pid });
    expect(readFileSync(join(dir, `init-${pid}`), 'utf8')).toBe('hello');
  });

  test('ready() resolves once the initializers of the first workers have run', async () => {
    const dir = tempDir();
    const { pool, pids } = makePool({
      maxWorkers: 2,
      initializer: life.init,
      initargs: [dir, 'ready'],
    });
    await pool.ready();
    expect(pids.size).toBe(2);
    for (const pid of pids) expect(existsSync(join(dir, `init-${pid}`))).toBe(true);
  });

  test('the finalizer runs when a worker retires after maxTasksPerChild', async () => {
    const dir = tempDir();
    const { pool } = makePool({
      maxWorkers: 1,
      maxTasksPerChild: 1,
      initializer: life.init,
      initargs: [dir, 'i'],
      finalizer: life.fin,
      finalargs: [dir, 'goodbye'],
    });
    const future = pool.submit(tasks.pid);
    const pid = await started(future);
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === pid);
    expect(await future).toBe(pid);
    expect((await exit).reason).toBe('maxTasks');
    expect(readFileSync(join(dir, `init-${pid}`), 'utf8')).toBe('i');
    expect(readFileSync(join(dir, `fin-${pid}`), 'utf8')).toBe('goodbye');
  });

  test('the finalizer runs in every worker at a graceful shutdown', async () => {
    const dir = tempDir();
    const { pool, pids } = makePool({
      maxWorkers: 2,
      finalizer: life.fin,
      finalargs: [dir, 'bye'],
    });
    await pool.ready();
    await pool.submit(tasks.add, [1, 1]);
    await pool.shutdown();
    expect(pids.size).toBe(2);
    for (const pid of pids) expect(readFileSync(join(dir, `fin-${pid}`), 'utf8')).toBe('bye');
  });

  test('the finalizer does not run in a worker that is killed', async () => {
    const dir = tempDir();
    const { pool } = makePool({
      maxWorkers: 1,
      initializer: life.init,
      initargs: [dir, 'i'],
      finalizer: life.fin,
      finalargs: [dir, 'never'],
    });
    const future = pool.submit(tasks.forever, [], { timeout: 300 });
    const pid = await started(future);
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === pid);
    await expect(future).rejects.toMatchObject({ code: 'ERR_DEADPOOL_TIMEOUT' });
    expect((await exit).reason).toBe('timeout');
    expect(existsSync(join(dir, `init-${pid}`))).toBe(true);
    expect(existsSync(join(dir, `fin-${pid}`))).toBe(false);
  });

  test('a finalizer that throws is reported as a warning and the retirement goes on', async () => {
    const dir = tempDir();
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const { pool } = makePool({
        maxWorkers: 1,
        maxTasksPerChild: 1,
        finalizer: life.finThrows,
        finalargs: [dir],
      });
      const future = pool.submit(tasks.pid);
      const pid = await started(future);
      const exit = nextEvent(pool, 'workerExit', (e) => e.pid === pid);
      await future;
      expect((await exit).reason).toBe('maxTasks');
      expect(existsSync(join(dir, `fin-${pid}`))).toBe(true);
      await waitFor(
        () => warnings.some((w) => /finalizer failed on purpose/.test(String(w.message))),
        {
          timeoutMs: 5_000,
          what: 'a warning about the finalizer',
        },
      );
      // The pool goes on with a fresh worker.
      const next = await pool.submit(tasks.pid);
      expect(next).not.toBe(pid);
    } finally {
      process.off('warning', onWarning);
    }
  });

  /**
   * Shut down a pool of one whose worker's exit never completes after
   * `finalizer`: the worker is SIGKILLed with the shutdown's reason, and the
   * shutdown resolves. How long it took.
   */
  async function shutdownWithStuckExit(
    finalizer: typeof life.finThenStuckExit | typeof life.finThenStuckTeardown,
  ): Promise<number> {
    const { pool } = makePool({ maxWorkers: 1, finalizer });
    const pid = await pool.submit(tasks.pid);
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === pid);
    const since = performance.now();
    await pool.shutdown();
    const took = performance.now() - since;
    expect(await exit).toMatchObject({ reason: 'shutdown', exitCode: null, signal: 'SIGKILL' });
    expect(isAlive(pid)).toBe(false);
    return took;
  }

  test('a worker whose exit does not complete after its finalizer is killed FINALIZED_EXIT_MS later, and the shutdown resolves', async () => {
    const took = await shutdownWithStuckExit(life.finThenStuckExit);
    // Its exit had its time; the finalizer's own 10 s were not waited out.
    expect(took).toBeGreaterThanOrEqual(FINALIZED_EXIT_MS - 5);
    expect(took).toBeLessThan(5_000);
  });

  test("a worker stuck in Node's teardown, after its 'exit' listeners ran, is killed EXITING_MS later", async () => {
    const took = await shutdownWithStuckExit(life.finThenStuckTeardown);
    // It said so once its 'exit' listeners ran: FINALIZED_EXIT_MS was not waited out.
    expect(took).toBeGreaterThanOrEqual(EXITING_MS - 5);
    expect(took).toBeLessThan(FINALIZED_EXIT_MS);
  });
});

describe("an exit that stalls in Node's teardown, outside a retirement", () => {
  test("a task's process.exit() that stalls: the worker is killed EXITING_MS later and the future fails, with no timeout set", async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const exits = record(pool, 'workerExit');
    const future = pool.submit(life.exitStalled, [3]);
    const error = await rejection(future);
    expect(error).toBeInstanceOf(ProcessError);
    expect(error).toMatchObject({ exitCode: null, signal: 'SIGKILL', pid: future.pid });
    expect((error as Error).message).toMatch(
      /called process\.exit\(3\), and its exit stalled in Node's teardown, so the pool killed it/,
    );
    expect(exits).toMatchObject([{ pid: future.pid, reason: 'crashed', signal: 'SIGKILL' }]);
    expect(isAlive(future.pid!)).toBe(false);
    // The pool goes on with a fresh worker.
    expect(await pool.submit(tasks.pid)).not.toBe(future.pid);
  });

  test("an initializer's process.exit() that stalls is a failed start, and ready() rejects", async () => {
    const { pool } = makePool({ maxWorkers: 1, initializer: life.exitStalled, initargs: [2] });
    const exits = record(pool, 'workerExit');
    const error = await rejection(pool.ready());
    expect(error).toBeInstanceOf(WorkerStartError);
    expect(String(((error as Error).cause as Error | undefined)?.message)).toMatch(
      /exited with code 2 before it was ready/,
    );
    expect(exits.length).toBeGreaterThanOrEqual(1);
    expect(exits.filter((e) => e.reason !== 'startFailed' || e.signal !== 'SIGKILL')).toEqual([]);
    for (const { pid } of exits) expect(isAlive(pid)).toBe(false);
  });
});
