/**
 * The worker's entry (README "Performance", cold start): `npm run build`
 * bundles the child side into one module, dist/child/worker.js, and the pool
 * forks that file, so a starting worker loads one module of ours, not ten.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import * as tasks from './fixtures/core/tasks.mjs';
import { makePool } from './helpers/index.js';

const bundle = fileURLToPath(new URL('../dist/child/worker.js', import.meta.url));

describe('worker entry', () => {
  test('the built worker entry imports none of deadpool’s own modules', () => {
    const source = readFileSync(bundle, 'utf8');
    const imports = [...source.matchAll(/^import .* from ["']([^"']+)["'];?$/gm)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    for (const specifier of imports) expect(specifier).toMatch(/^node:/);
    expect(source).not.toMatch(/\bimport\(["']\.{1,2}\//);
  });

  test('the pool forks the bundled entry', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const pid = await pool.submit(tasks.pid);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(argv).toContain(bundle);
  });
});
