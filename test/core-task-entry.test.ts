/**
 * `deadpool/task` is the light entry point for task modules: defineTask and
 * taskSignal work from it exactly as from the main entry.
 */
import { expect, test } from 'vitest';
import { waitForSoftTimeout, whoami } from './fixtures/core/light.mjs';
import { makePool } from './helpers/index.js';

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
