/**
 * A pool never multiplies itself (docs/guarantees.md): a pool created while a
 * worker imports a task module, or by a worker's preload, is refused with
 * ERR_DEADPOOL_NESTED, and the task fails with it; a running task may still
 * create a pool of its own (see core-tasks.test.ts, "nested pools").
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { DeadpoolError, NestedPoolError, task, WorkerStartError } from '../dist/index.js';
import * as tasks from './fixtures/core/tasks.mjs';
import {
  expectAllGone,
  fixture,
  killAfterTest,
  makePool,
  rejection,
  tempDir,
  waitFor,
} from './helpers/index.js';

const FIRST_PROGRAM = fixture('nested/first-program.mjs');

/** The pids a fixture appended to `path`, one a line. */
function pidsIn(path: string): number[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map(Number);
}

describe('a pool created while a worker imports a task module', () => {
  test('the natural first program ends with the nested-pool error, its processes bounded', async () => {
    const pidsFile = join(tempDir(), 'pids');
    const child = spawn(process.execPath, [fileURLToPath(FIRST_PROGRAM)], {
      env: { ...process.env, DEADPOOL_TEST_PIDS: pidsFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    // Bounded: a fork chain never exits by itself. It fails as soon as a fourth process runs
    // the file (or at the bound); whatever ran it is killed: the program at once, the
    // chain below it by the pools' sentinels and the cleanup.
    let code: number | null | undefined;
    void exited.then((c) => (code = c));
    const chained = () => pidsIn(pidsFile).length > 3;
    await waitFor(() => code !== undefined || chained(), {
      timeoutMs: 20_000,
      what: 'the first program to exit',
    }).catch(() => undefined);
    if (code === undefined) {
      killAfterTest(pidsIn(pidsFile));
      child.kill('SIGKILL');
      await exited;
      throw new Error(
        `the program did not exit; processes that ran it: ${pidsIn(pidsFile).join(', ')}`,
      );
    }
    expect(code).toBe(1);
    expect(stderr).toContain('NestedPoolError');
    expect(stderr).toContain(
      `while a worker imported the task module ${fileURLToPath(FIRST_PROGRAM)}`,
    );
    expect(stderr).toContain('Define tasks in a module that does not create a pool');
    expect(stderr).toContain('import.meta.main');
    expect(stderr).toContain('process.argv[1] === fileURLToPath(import.meta.url)');
    // The program itself and its two workers ran the file; nobody further down.
    const ran = pidsIn(pidsFile);
    expect(ran.length).toBeGreaterThanOrEqual(2);
    expect(ran.length).toBeLessThanOrEqual(3);
    await expectAllGone(ran);
  });

  test('the task fails with a DeadpoolError coded ERR_DEADPOOL_NESTED naming the module', async () => {
    const { pool, pids } = makePool({ maxWorkers: 1 });
    const error = await rejection(pool.submit(task(FIRST_PROGRAM, 'double'), [21]));
    expect(error).toBeInstanceOf(NestedPoolError);
    expect(error).toBeInstanceOf(DeadpoolError);
    expect((error as NestedPoolError).code).toBe('ERR_DEADPOOL_NESTED');
    expect((error as Error).message).toContain(fileURLToPath(FIRST_PROGRAM));
    // The worker's stack shows where the pool was created.
    expect((error as Error).stack).toContain('first-program.mjs');
    // The worker survives: a failed import is the task's failure, not the worker's.
    expect(await pool.submit(tasks.add, [1, 2])).toBe(3);
    expect(pids.size).toBe(1);
  });

  test('a pool created after a top-level await of the task module is refused too', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const error = await rejection(pool.submit(task(fixture('nested/after-await.mjs'), 'one')));
    expect(error).toBeInstanceOf(NestedPoolError);
    expect((error as Error).message).toContain('after-await.mjs');
  });

  test('a pool created by a static import of the task module names the module being imported', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const url = fixture('nested/static-import.mjs');
    const error = await rejection(pool.submit(task(url, 'two')));
    expect(error).toBeInstanceOf(NestedPoolError);
    expect((error as Error).message).toContain(`task module ${fileURLToPath(url)}:`);
  });

  test('in an initializer module, the refusal is a failed start whose cause is the nested error', async () => {
    const { pool, pids } = makePool({
      maxWorkers: 1,
      initializer: task(FIRST_PROGRAM, 'double'),
      initargs: [1],
    });
    const error = await rejection(pool.ready());
    expect(error).toBeInstanceOf(WorkerStartError);
    expect((error as Error).cause).toBeInstanceOf(NestedPoolError);
    expect(pids.size).toBeLessThanOrEqual(5);
  });
});

describe('two copies of the library in one worker', () => {
  test('a pool made by another copy while the worker imports the task module is refused', async () => {
    // A second copy of dist inside the repository (so it finds the same node_modules).
    const root = fileURLToPath(new URL('..', import.meta.url));
    const dir = mkdtempSync(join(root, '.nested-copy-'));
    try {
      cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
      const module = join(dir, 'task.mjs');
      writeFileSync(
        module,
        "import { Deadpool } from './dist/index.js';\n" +
          'export const three = () => 3;\n' +
          'export const pool = new Deadpool({ maxWorkers: 1 });\n',
      );
      const { pool } = makePool({ maxWorkers: 1 });
      const error = await rejection(pool.submit(task(module, 'three')));
      expect(error).toBeInstanceOf(NestedPoolError);
      expect((error as Error).message).toContain(module);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a pool created by a preload of the workers', () => {
  test('a worker whose --import preload creates a pool fails to start, and no chain grows', async () => {
    const pidsFile = join(tempDir(), 'pids');
    const { pool, pids } = makePool({
      maxWorkers: 1,
      execArgv: ['--import', fileURLToPath(fixture('nested/preload-pool.mjs'))],
      env: { ...process.env, DEADPOOL_TEST_PIDS: pidsFile },
      onWorkerOutput: () => {}, // the refusal's stack, once per start
    });
    const error = await rejection(pool.submit(tasks.add, [1, 2]));
    killAfterTest(pidsIn(pidsFile));
    expect(error).toBeInstanceOf(WorkerStartError);
    expect((error as Error).message).toContain('NestedPoolError');
    expect((error as Error).message).toContain('preload-pool.mjs');
    // Only the pool's own workers ran the preload: none of them made workers.
    expect(new Set(pidsIn(pidsFile))).toEqual(pids);
  });
});
