/**
 * Pools made in tests: each is shut down (and proven gone, with every child
 * of the test process) after the test that made it, even if the test failed.
 * Integration tests import the *built* package (dist/), so `npm test` builds
 * first (see the `pretest` script).
 */
import { afterEach } from 'vitest';
import { Deadpool, type DeadpoolOptions } from '../../dist/index.js';
import { waitFor } from './events.js';
import { deadpoolCgroups } from './cgroups.js';
import { expectAllGone, rememberChild, testDescendants } from './processes.js';

const live = new Set<{ pool: Deadpool; pids: Set<number> }>();

/**
 * Create a pool that is shut down (and proven gone) after the current test,
 * even if the test failed. The returned `pids` set collects every worker pid
 * the pool ever started.
 */
export function makePool(options: DeadpoolOptions = {}): { pool: Deadpool; pids: Set<number> } {
  // DEADPOOL_TEST_CONTAINMENT=process-group runs the suite under today's containment.
  const containment = process.env.DEADPOOL_TEST_CONTAINMENT as DeadpoolOptions['containment'];
  const pool = new Deadpool(containment ? { containment, ...options } : options);
  const pids = new Set<number>();
  pool.on('workerStart', ({ pid }: { pid: number }) => {
    rememberChild(pid);
    pids.add(pid);
  });
  const entry = { pool, pids };
  live.add(entry);
  return entry;
}

/** Other things a test made that hold processes (a fake engine's sentinel): closed with its pools. */
const closers: (() => Promise<void>)[] = [];

/** Have `close` run after the test, with its pools, before the check that nothing is left. */
export function closeAfterTest(close: () => Promise<void>): void {
  closers.push(close);
}

afterEach(async () => {
  const entries = [...live];
  live.clear();
  // Kill whatever still runs (an endless task must not hang the cleanup), then prove it is gone.
  await Promise.all([
    ...entries.map(({ pool }) => pool.shutdown({ wait: false, cancelFutures: true })),
    ...closers.splice(0).map((close) => close()),
  ]);
  for (const { pids } of entries) await expectAllGone(pids);
  // No child of the test process may outlive its test.
  await waitFor(() => testDescendants().length === 0, {
    timeoutMs: 5_000,
    what: `no descendants of the test process (left: ${testDescendants().join(', ')})`,
  });
  // Nor any cgroup of its pools (kernel containment removes them once empty).
  if (entries.length > 0) {
    await waitFor(() => deadpoolCgroups(process.pid).length === 0, {
      timeoutMs: 5_000,
      what: `no cgroups of the test's pools (left: ${deadpoolCgroups(process.pid).join(', ')})`,
    });
  }
});

/** Absolute file: URL of a fixture module. */
export function fixture(name: string): string {
  return new URL(`../fixtures/${name}`, import.meta.url).href;
}

/** mulberry32: a tiny seeded PRNG giving floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
