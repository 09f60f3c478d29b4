/**
 * The bench runs each repetition as a child process and reads its
 * BENCH_RESULT line (bench/lib/child.mjs). A child whose exit never
 * completes after its result (Node's process.exit() can deadlock,
 * nodejs/node#54918) is killed `exitMs` later, not at the run's limit.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runChild } from '../bench/lib/child.mjs';
import { tempDir } from './helpers/index.js';

describe('bench child runner', () => {
  test('a child that printed its result but does not exit is killed exitMs later, its result kept', async () => {
    const script = join(tempDir(), 'stuck.mjs');
    writeFileSync(
      script,
      `process.stdout.write('BENCH_RESULT ' + JSON.stringify({ lib: process.argv[2], value: 42 }) + '\\n');
      process.on('exit', () => { for (;;); });
      process.exit(0);`,
    );
    const since = performance.now();
    const result = await runChild('stuck', 'none', {}, { script, exitMs: 300, limitMs: 20_000 });
    const took = performance.now() - since;
    expect(result).toMatchObject({ lib: 'stuck', value: 42, orphans_after_exit: [] });
    expect(took).toBeGreaterThanOrEqual(300);
    expect(took).toBeLessThan(10_000);
  });

  test('a child that exits on its own is not waited for', async () => {
    const script = join(tempDir(), 'quick.mjs');
    writeFileSync(
      script,
      `process.stdout.write('BENCH_RESULT ' + JSON.stringify({ lib: process.argv[2], value: 1 }) + '\\n');`,
    );
    const since = performance.now();
    const result = await runChild('quick', 'none', {}, { script, exitMs: 20_000 });
    expect(result).toMatchObject({ lib: 'quick', value: 1 });
    expect(performance.now() - since).toBeLessThan(10_000);
  });
});
