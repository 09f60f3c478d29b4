/**
 * When the process that owns the pool dies (SIGKILL, or a plain exit without
 * shutdown), every worker and every process a worker started exits within 1 s,
 * workers spinning in synchronous loops included: the pool's sentinel kills
 * them (docs/containment.md, "When the pool's process dies"), under cgroups
 * and under process groups alike. A sentinel killed while the pool runs is
 * started again; one that keeps dying is given up for watchdog threads in the
 * workers. And a script that never calls shutdown still exits by itself.
 */
import { describe, expect, it } from 'vitest';
import {
  descendantsOf,
  isAlive,
  killAfterTest,
  killChild,
  killChildOf,
  runScript,
  sentinelOf,
  survivors,
  tempDir,
  waitFor,
  within,
} from './helpers/index.js';

interface Report {
  parent: number;
  workers: number[];
  grandchildren: number[];
}

/** Waits until none of `pids` is alive; returns the time it took, or throws naming survivors. */
async function timeUntilGone(pids: number[], since: number): Promise<number> {
  await waitFor(() => survivors(pids).length === 0, { timeoutMs: 1_500, intervalMs: 5 }).catch(
    () => {
      throw new Error(
        `still alive ${Date.now() - since} ms after the parent died: ${survivors(pids).join(', ')}`,
      );
    },
  );
  return Date.now() - since;
}

/** Start parent-pool.mjs in `sigkill` mode; its workers spin, their grandchildren sleep. */
async function spinningPool(
  containment = 'auto',
  shell = 'shell',
): Promise<{ report: Report; pids: number[] }> {
  const script = runScript('parent-pool.mjs', ['sigkill', tempDir(), containment, shell]);
  killAfterTest([script.child.pid!]);
  const report = await script.firstLine<Report>();
  const pids = [
    ...new Set([...report.workers, ...report.grandchildren, ...descendantsOf(report.parent)]),
  ];
  killAfterTest(pids);
  expect(report.workers).toHaveLength(2);
  expect(report.grandchildren).toHaveLength(6);
  expect(survivors([...report.workers, ...report.grandchildren])).toHaveLength(8);
  exits.set(report.parent, script.exited);
  return { report, pids };
}
const exits = new Map<number, Promise<{ signal: NodeJS.Signals | null }>>();

/** SIGKILL the script; returns how long its workers and their trees took to go. */
async function killParent(report: Report, pids: number[]): Promise<number> {
  expect(killChild(report.parent)).toBe(true);
  const { signal } = await within(exits.get(report.parent)!, 5_000, 'the parent to die');
  const diedAt = Date.now();
  expect(signal).toBe('SIGKILL');
  return timeUntilGone(pids, diedAt);
}

/** SIGKILL the script's running sentinel; resolves once it is gone. */
async function killSentinel(parent: number): Promise<void> {
  const sentinel = await waitFor(() => sentinelOf(parent), { what: 'a sentinel' });
  killAfterTest([sentinel]);
  expect(killChildOf(parent, sentinel)).toBe(true);
  await waitFor(() => sentinelOf(parent)?.pid !== sentinel.pid, {
    what: 'the killed sentinel to be gone',
  });
}

describe('the parent process dies', () => {
  it.each(['auto', 'process-group'])(
    'by SIGKILL: workers spinning in sync loops and their grandchildren are gone within 1 s (containment %s)',
    async (containment) => {
      const { report, pids } = await spinningPool(containment);
      const took = await killParent(report, pids);
      console.log(
        `parent SIGKILL (${containment}): ${pids.length} processes gone ${took} ms after the parent died`,
      );
      expect(took).toBeLessThanOrEqual(1_500);
    },
  );

  it('by SIGKILL after its sentinel was killed three times: the sentinel started again takes them, by the workers it was told of', async () => {
    // Under process groups it knows the workers only from what the pool told it.
    const { report, pids } = await spinningPool('process-group');
    for (let i = 0; i < 3; i++) await killSentinel(report.parent);
    const again = await waitFor(() => sentinelOf(report.parent), {
      timeoutMs: 3_000,
      what: 'a new sentinel',
    });
    killAfterTest([again]);
    pids.push(again.pid);
    expect(await killParent(report, pids)).toBeLessThanOrEqual(1_500);
  });

  it('by SIGKILL where the sentinel failed to start after the workers were forked: told to, each worker guarded itself', async () => {
    const { report, pids } = await spinningPool('auto', 'broken-shell');
    expect(sentinelOf(report.parent)).toBeUndefined();
    expect(await killParent(report, pids)).toBeLessThanOrEqual(1_500);
  });

  it('by SIGKILL where no sentinel can run (no /bin/sh): each worker guarded itself with a watchdog thread', async () => {
    const { report, pids } = await spinningPool('auto', 'no-shell');
    expect(sentinelOf(report.parent)).toBeUndefined();
    expect(await killParent(report, pids)).toBeLessThanOrEqual(1_500);
  });

  it('by a normal exit without shutdown: workers spinning in sync loops and their grandchildren are gone within 1 s', async () => {
    const script = runScript('parent-pool.mjs', ['exit', tempDir()]);
    killAfterTest([script.child.pid!]);
    const report = await script.firstLine<Report>();
    const pids = [...new Set([...report.workers, ...report.grandchildren])];
    killAfterTest(pids);
    const { code } = await within(script.exited, 5_000, 'the parent to exit');
    const exitedAt = Date.now();
    expect(code).toBe(0);
    const took = await timeUntilGone(pids, exitedAt);
    console.log(`parent exit(0): ${pids.length} processes gone ${took} ms after the parent exited`);
    expect(took).toBeLessThanOrEqual(1_500);
  });
});

describe('a script that never calls shutdown', () => {
  it('exits by itself with code 0 once its tasks are done, leaving no worker', async () => {
    const script = runScript('no-shutdown.mjs');
    killAfterTest([script.child.pid!]);
    const startedAt = Date.now();
    const { code, signal } = await within(script.exited, 10_000, 'the script to exit by itself');
    const took = Date.now() - startedAt;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    const report = JSON.parse(script.stdout().trim()) as { workers: number[]; values: number[] };
    expect(report.values).toEqual([3, 5, 7, 9]);
    killAfterTest(report.workers);
    await waitFor(() => report.workers.every((pid) => !isAlive(pid)), {
      timeoutMs: 2_000,
      what: 'its workers to exit',
    });
    console.log(`script without shutdown exited by itself in ${took} ms`);
  });
});
