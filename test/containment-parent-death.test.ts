/**
 * Kernel containment when the pool's process is SIGKILLed: the worker's
 * watchdog kills its own cgroup, daemons included, within 1 s; the empty
 * cgroups the dead pool left are removed by the next pool that starts.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  daemonAlive,
  deadpoolCgroups,
  isAlive,
  killAfterTest,
  makePool,
  readDaemons,
  runScript,
  tempDir,
  waitFor,
} from './helpers/index.js';

interface Report {
  parent: number;
  worker: number;
  cgroups: string;
}

describe('the parent process is SIGKILLed under kernel containment', () => {
  it('its worker and the daemons a task started are gone within 1 s; the next pool removes its cgroups', async () => {
    const file = join(tempDir(), 'daemons.pids');
    const script = runScript('parent-daemons.mjs', [file, '5'], 'containment');
    killAfterTest([script.child.pid!]);
    const report = await script.firstLine<Report>();
    killAfterTest([report.worker]);
    const list = readDaemons(file);
    expect(list).toHaveLength(5);
    expect(list.every(daemonAlive)).toBe(true);
    expect(report.cgroups).toMatch(/^0::\/deadpool-\d+-\d+-\d+-\d+\/w1$/m);

    const since = Date.now();
    script.child.kill('SIGKILL'); // our own child, not yet reaped
    await waitFor(() => !isAlive(report.worker) && !list.some(daemonAlive), {
      timeoutMs: 1_000,
      intervalMs: 5,
      what: 'the worker and its daemons gone within 1 s of the parent’s SIGKILL',
    });
    expect(Date.now() - since).toBeLessThan(1_000);
    await script.exited;

    // Nobody removed the dead pool's cgroups; the next pool does, and only those.
    expect(deadpoolCgroups(report.parent).length).toBeGreaterThan(0);
    const { pool } = makePool({ maxWorkers: 1 });
    await pool.ready();
    await waitFor(() => deadpoolCgroups(report.parent).length === 0, {
      timeoutMs: 3_000,
      what: `the dead pool's cgroups removed (left: ${deadpoolCgroups(report.parent).join(', ')})`,
    });
    expect(deadpoolCgroups(process.pid).length).toBeGreaterThan(0); // its own stay
  });
});
