/**
 * `deadpool/task` is the light entry point for task modules: defineTask,
 * taskSignal and reportProgress work from it exactly as from the main entry,
 * and `npm run build` bundles it into one module (scripts/bundle.mjs).
 */
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { countTo, waitForSoftTimeout, whoami } from './fixtures/core/light.mjs';
import { makePool } from './helpers/index.js';

test('the built deadpool/task is one module: it imports nothing, and takes Node’s own with process.getBuiltinModule()', () => {
  const source = readFileSync(new URL('../dist/task-module.js', import.meta.url), 'utf8');
  expect(source).not.toMatch(/^import .* from /m);
  expect(source).not.toMatch(/^export .* from /m);
  expect(source).not.toMatch(/\bimport\(/);
  expect(source).toMatch(/process\.getBuiltinModule\("node:url"\)/);
});

test('a task defined with deadpool/task runs in a worker', async () => {
  const { pool } = makePool({ maxWorkers: 1 });
  const result = await pool.submit(whoami);
  expect(result.pid).not.toBe(process.pid);
});

test('taskSignal from deadpool/task is aborted by the soft timeout', async () => {
  const { pool } = makePool({ maxWorkers: 1 });
  expect(await pool.submit(waitForSoftTimeout, [], { softTimeout: 100, timeout: 10_000 })).toBe(
    'TimeoutError',
  );
});

test('reportProgress from deadpool/task reaches the future', async () => {
  const { pool } = makePool({ maxWorkers: 1 });
  const seen: unknown[] = [];
  expect(await pool.submit(countTo, [3], { onProgress: (value) => seen.push(value) })).toBe(3);
  expect(seen).toEqual([1, 2, 3]);
});
