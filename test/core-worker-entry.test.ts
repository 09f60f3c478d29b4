/**
 * The worker's entry (README "Performance", cold start): `npm run build`
 * bundles the child side into one script, run by dist/child/worker.cjs, and
 * the pool forks that file, so a starting worker loads one file of ours, not
 * ten, no ES module facade of Node's own, and no ES module as its entry
 * (scripts/bundle.mjs).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import * as tasks from './fixtures/core/tasks.mjs';
import { makePool } from './helpers/index.js';

const bundle = fileURLToPath(new URL('../dist/child/worker.cjs', import.meta.url));

describe('worker entry', () => {
  test('the built worker entry imports nothing: our modules are in it, Node’s are taken with process.getBuiltinModule()', () => {
    const source = readFileSync(bundle, 'utf8');
    expect(source).not.toMatch(/^import .* from /m);
    expect(source).toMatch(/process\.getBuiltinModule\("node:fs"\)/);
    expect(source).not.toMatch(/\bimport\(["']\.{1,2}\//);
  });

  test('a worker starts without what it does not use: no facade of node:fs (its streams, readline), no worker_threads, no perf_hooks (src/child/clock.ts)', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const loaded = await pool.submit(() =>
      ['internal/fs/streams', 'internal/repl/history', 'worker_threads', 'perf_hooks'].filter(
        (name) =>
          // Node's own list of the built-in modules it loaded (not in @types/node).
          (process as unknown as { moduleLoadList: string[] }).moduleLoadList.includes(
            `NativeModule ${name}`,
          ),
      ),
    );
    expect(loaded).toEqual([]);
  });

  test('the pool forks the bundled entry, a CommonJS script', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const pid = await pool.submit(tasks.pid);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(argv).toContain(bundle);
    // Node's CommonJS loader ran it: it is its main module.
    const main = await pool.submit(() => require.main?.filename);
    expect(main).toBe(bundle);
  });
});
