/**
 * Kernel containment when the pool's process is SIGKILLed: the pool's
 * sentinel kills its cgroups, daemons included, within 1 s, and removes
 * them. Were the sentinel killed too, the next pool that starts on the host
 * kills what is left in the dead pool's cgroups and removes them.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  daemonAlive,
  deadpoolCgroups,
  isAlive,
  killAfterTest,
  killChildOf,
  makePool,
  readDaemons,
  runScript,
  sentinelOf,
  tempDir,
  type Daemon,
  waitFor,
} from './helpers/index.js';

interface Report {
  parent: number;
  worker: number;
  cgroups: string;
}

/**
 * Start parent-daemons.mjs: one worker under kernel containment, its task's
 * 5 daemons running, its event loop blocked (it cannot see its channel close).
 */
async function poolWithDaemons(): Promise<{
  report: Report;
  daemons: Daemon[];
  child: ChildProcess;
}> {
  const file = join(tempDir(), 'daemons.pids');
  const script = runScript('parent-daemons.mjs', [file, '5', 'loop'], 'containment');
  killAfterTest([script.child.pid!]);
  const report = await script.firstLine<Report>();
  killAfterTest([report.worker]);
  const daemons = readDaemons(file);
  expect(daemons).toHaveLength(5);
  expect(daemons.every(daemonAlive)).toBe(true);
  expect(report.cgroups).toMatch(/^0::\/deadpool-\d+-\d+-\d+-\d+\/w1$/m);
  return { report, daemons, child: script.child };
}

describe('the parent process is SIGKILLed under kernel containment', () => {
  it("its sentinel kills the worker and the daemons a task started within 1 s, then removes the pool's cgroups", async () => {
    const { report, daemons, child } = await poolWithDaemons();
    const since = Date.now();
    child.kill('SIGKILL'); // our own child, not yet reaped
    await waitFor(() => !isAlive(report.worker) && !daemons.some(daemonAlive), {
      timeoutMs: 1_000,
      intervalMs: 5,
      what: 'the worker and its daemons gone within 1 s of the parent’s SIGKILL',
    });
    expect(Date.now() - since).toBeLessThan(1_000);
    await waitFor(() => deadpoolCgroups(report.parent).length === 0, {
      timeoutMs: 3_000,
      what: `the dead pool's cgroups removed (left: ${deadpoolCgroups(report.parent).join(', ')})`,
    });
  });

  it('with its sentinel killed too: the next pool on the host kills what is left and removes only those cgroups', async () => {
    const { report, daemons, child } = await poolWithDaemons();
    const sentinel = sentinelOf(report.parent)!;
    expect(sentinel).toBeDefined();
    killAfterTest([sentinel]);
    // Frozen first, the parent cannot start another sentinel before it dies.
    child.kill('SIGSTOP');
    expect(killChildOf(report.parent, sentinel)).toBe(true);
    child.kill('SIGKILL');
    await waitFor(() => !isAlive(sentinel.pid) && child.signalCode !== null, {
      what: 'the parent and its sentinel dead',
    });
    // Nobody is left to kill the spinning worker or remove the cgroups; the next pool does both.
    expect(isAlive(report.worker)).toBe(true);
    expect(deadpoolCgroups(report.parent).length).toBeGreaterThan(0);
    const { pool } = makePool({ maxWorkers: 1 });
    await pool.ready();
    await waitFor(() => !isAlive(report.worker) && !daemons.some(daemonAlive), {
      timeoutMs: 3_000,
      what: 'the worker and its daemons killed by the next pool',
    });
    await waitFor(() => deadpoolCgroups(report.parent).length === 0, {
      timeoutMs: 3_000,
      what: `the dead pool's cgroups removed (left: ${deadpoolCgroups(report.parent).join(', ')})`,
    });
    expect(deadpoolCgroups(process.pid).length).toBeGreaterThan(0); // its own stay
  });
});
