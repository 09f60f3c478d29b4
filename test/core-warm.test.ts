/**
 * Task modules imported ahead (docs/dispatch.md, "Task modules, imported
 * ahead"): once a task of a module returned on one worker, the pool's other
 * workers import that module while they are idle, so that their first task
 * of it does not wait for the import; a busy worker imports nothing ahead.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { gated } from './fixtures/core/warm-gate.mjs';
import { pid } from './fixtures/core/warm.mjs';
import { gate, makePool, tempDir, waitFor } from './helpers/index.js';

/** A fresh, empty log, and a pool of two workers that write to it. */
function poolWithLog(): {
  pool: ReturnType<typeof makePool>['pool'];
  log: string;
  lines: () => string[];
} {
  const log = join(tempDir(), 'imports.log');
  writeFileSync(log, '');
  const { pool } = makePool({
    maxWorkers: 2,
    minWorkers: 2,
    env: { ...process.env, DEADPOOL_TEST_IMPORT_LOG: log },
  });
  return { pool, log, lines: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

describe('task modules imported ahead', () => {
  test('an idle worker imports the module another worker ran a task of, once, before its own first task of it', async () => {
    const { pool, log, lines } = poolWithLog();
    const first = await pool.submit(pid, [], { affinity: 'first' });
    await waitFor(
      () => lines().some((line) => line.startsWith('import ') && line !== `import ${first}`),
      {
        what: 'the other worker importing the module',
      },
    );
    const other = Number(
      lines()
        .find((line) => line !== `import ${first}`)!
        .split(' ')[1],
    );
    // Hold the first worker, so that the next task of the module goes to the other.
    const hold = gate();
    const held = pool.submit(gated, [log, hold.path], { affinity: 'first' });
    await waitFor(() => lines().includes(`start ${first}`), { what: 'the first worker held' });
    expect(await pool.submit(pid, [])).toBe(other);
    hold.open();
    expect(await held).toBe(first);
    // Each worker imported the module once: the other before its task came.
    expect(
      lines()
        .filter((line) => line.startsWith('import '))
        .sort(),
    ).toEqual([`import ${first}`, `import ${other}`].sort());
  });

  test('a busy worker imports the module only after its task ended', async () => {
    const { pool, log, lines } = poolWithLog();
    await pool.ready();
    const hold = gate();
    const held = pool.submit(gated, [log, hold.path]);
    const busy = Number(
      (
        await waitFor(() => lines().find((line) => line.startsWith('start ')), {
          what: 'the gated task',
        })
      ).split(' ')[1],
    );
    // The other worker runs the module's first task while this one is busy.
    const idle = await pool.submit(pid, []);
    expect(idle).not.toBe(busy);
    hold.open();
    expect(await held).toBe(busy);
    await waitFor(() => lines().includes(`import ${busy}`), {
      what: 'the busy worker importing the module',
    });
    expect(lines().indexOf(`end ${busy}`)).toBeLessThan(lines().indexOf(`import ${busy}`));
    expect(lines().indexOf(`end ${busy}`)).toBeGreaterThanOrEqual(0);
  });
});
