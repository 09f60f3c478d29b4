/**
 * Chaos with a fixed seed: a few thousand mixed tasks (good, throwing,
 * timing out, exiting, killing themselves, leaking, spawning, returning the
 * unserializable) while a killer SIGKILLs a random worker every ~50 ms. Every
 * future settles exactly once, every success is right, the statistics add up,
 * nothing is left running, and the pool takes fresh work afterwards.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CancelledError,
  DeadpoolError,
  ProcessError,
  SerializationError,
  TimeoutError,
  type Future,
} from '../dist/index.js';
import { twice } from './fixtures/faults/basic.mjs';
import { chaos, type ChaosKind } from './fixtures/faults/chaos.mjs';
import {
  allSettledWithProgress,
  descendantsOf,
  expectAllGone,
  isAlive,
  killAfterTest,
  killChild,
  makePool,
  mulberry32,
  tempDir,
} from './helpers/index.js';

const SEED = 0x5eed_d00d;
const TASKS = Number(process.env.CHAOS_TASKS ?? 2_000);
const KILL_EVERY_MS = Number(process.env.CHAOS_KILL_MS ?? 50);
/** Every kill costs a replacement fork (node start-up and a cgroup move); bounded to fit the test's time on 2 cores. */
const MAX_KILLS = Number(process.env.CHAOS_MAX_KILLS ?? 80);

/** Cumulative weights: mostly good work, a few percent of each fault. */
const MIX: [ChaosKind, number][] = [
  ['ok', 0.795],
  ['throw', 0.08],
  ['leak', 0.03],
  ['grandchild', 0.03],
  ['unserializable', 0.04],
  ['exit', 0.005],
  ['sigkill', 0.005],
  ['spin', 0.005],
  ['orphanExit', 0.005],
  ['orphanHang', 0.005],
];

function pick(random: () => number): ChaosKind {
  let x = random();
  for (const [kind, weight] of MIX) {
    if (x < weight) return kind;
    x -= weight;
  }
  return 'ok';
}

/** Why a settled task of `kind` is acceptable, or undefined if it is wrong. `killed`: pids the killer hit. */
function judge(
  kind: ChaosKind,
  n: number,
  outcome: PromiseSettledResult<{ n: number; value: number }>,
  killed: Set<number>,
): string | undefined {
  if (outcome.status === 'fulfilled') {
    const ok = ['ok', 'leak', 'grandchild'].includes(kind);
    return ok && outcome.value.n === n && outcome.value.value === n * 2 + 1
      ? undefined
      : `resolved with ${JSON.stringify(outcome.value)}`;
  }
  const error = outcome.reason as Error;
  if (error instanceof ProcessError && error.constructor === ProcessError) {
    // The killer may strike any running task; otherwise only a task that ends its own worker dies.
    if (error.pid !== undefined && killed.has(error.pid) && error.signal === 'SIGKILL')
      return undefined;
    if ((kind === 'exit' || kind === 'orphanExit') && error.exitCode === 7) return undefined;
    if (kind === 'sigkill' && error.signal === 'SIGKILL') return undefined;
    return `unexpected ProcessError: ${error.message}`;
  }
  if (kind === 'throw' && !(error instanceof DeadpoolError) && error.message === `chaos ${n}`)
    return undefined;
  if ((kind === 'spin' || kind === 'orphanHang') && error instanceof TimeoutError) return undefined;
  if (kind === 'unserializable' && error instanceof SerializationError) return undefined;
  return `rejected with ${error?.name}: ${error?.message}`;
}

describe('chaos', () => {
  // About 15 s alone on 2 cores; each kill costs a fork, so a loaded machine may take minutes.
  it(
    `${TASKS} mixed tasks under a SIGKILL every ${KILL_EVERY_MS} ms (up to ${MAX_KILLS}) all settle exactly once, rightly, and the pool survives`,
    { timeout: 300_000 },
    async () => {
      const random = mulberry32(SEED);
      const { pool, pids } = makePool({ maxWorkers: 4 });
      await pool.ready();

      // Only kill workers known to have started (they ran a task), so the killer never
      // turns into a start failure; idle and busy ones alike.
      const running = new Set<number>();
      pool.on('workerExit', ({ pid }: { pid: number }) => running.delete(pid));
      let kills = 0;
      const killed = new Set<number>();
      // The killer waits until at least 2 of the 4 workers are up, so kills cannot
      // outrun replacement forks, and stops after MAX_KILLS.
      const killer = setInterval(() => {
        const alive = [...running];
        if (alive.length < 2 || kills >= MAX_KILLS) return;
        const victim = alive[Math.floor(random() * alive.length)];
        if (victim === undefined) return;
        // `running` learns of an exit only after the pool has drained the dead
        // worker's messages: its pid may be free by now, even someone else's.
        // killChild signals only a live child of this process with the worker's start time.
        killed.add(victim);
        if (killChild(victim)) kills++;
        running.delete(victim);
      }, KILL_EVERY_MS);

      const startedAt = Date.now();
      const pidLog = join(tempDir(), 'orphans.log');
      writeFileSync(pidLog, '');
      const kinds: ChaosKind[] = [];
      const futures: Future<{ n: number; value: number }>[] = [];
      const settleCounts: number[] = [];
      for (let n = 0; n < TASKS; n++) {
        const kind = pick(random);
        kinds.push(kind);
        const hangs = kind === 'spin' || kind === 'orphanHang';
        const future = pool.submit(chaos, [kind, n, pidLog], hangs ? { timeout: 300 } : {});
        settleCounts.push(0);
        future.addDoneCallback(() => void settleCounts[n]!++);
        future.addPidCallback((f) => running.add(f.pid!));
        futures.push(future);
      }

      let outcomes: PromiseSettledResult<{ n: number; value: number }>[];
      try {
        // Fails on a stall, not on a slow machine: under load the whole run may take minutes.
        outcomes = await allSettledWithProgress(futures, {
          what: `the ${TASKS} chaos tasks`,
          describe: () =>
            `after ${kills} kills; statistics ${JSON.stringify(pool.getStatistics())}`,
        });
      } finally {
        clearInterval(killer);
      }
      const elapsed = Date.now() - startedAt;
      const stats = pool.getStatistics();

      const wrong = outcomes.flatMap((outcome, n) => {
        const why = judge(kinds[n]!, n, outcome, killed);
        return why === undefined ? [] : [`#${n} (${kinds[n]}): ${why}`];
      });
      expect(wrong.slice(0, 20)).toEqual([]);
      expect(settleCounts.filter((count) => count !== 1)).toEqual([]);
      const failed = outcomes.filter(
        (o) => o.status === 'rejected' && !(o.reason instanceof CancelledError),
      ).length;
      const cancelled = outcomes.filter(
        (o) => o.status === 'rejected' && o.reason instanceof CancelledError,
      ).length;
      expect(cancelled).toBe(0);
      expect(stats.tasksReceived).toBe(TASKS);
      expect(stats.tasksLaunched).toBeLessThanOrEqual(stats.tasksReceived);
      expect(stats.tasksFailed).toBe(failed);

      const fresh = await Promise.all(
        Array.from({ length: 50 }, (_, i) => pool.submit(twice, [i])),
      );
      expect(fresh.map((r) => r.value)).toEqual(fresh.map((_, i) => i * 2 + 1));
      // Nothing settled a second time while the fresh work ran.
      expect(settleCounts.filter((count) => count !== 1)).toEqual([]);

      await pool.shutdown();
      expect([...pids].filter(isAlive)).toEqual([]);
      expect(descendantsOf(process.pid)).toEqual([]);
      // The children of tasks that exited, timed out or were killed mid-task
      // were in their worker's process group: none is left, reparented or not.
      // Each logged with its start time: most died long ago, and their pids may be anyone's now.
      const orphans = readFileSync(pidLog, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [pid, start] = line.split(' ').map(Number) as [number, number];
          return { pid, start };
        });
      killAfterTest(orphans);
      expect(orphans.length).toBeGreaterThan(0);
      await expectAllGone(
        orphans.map(({ pid }) => pid),
        3_000,
      );

      const byKind = Object.fromEntries(
        MIX.map(([kind]) => [kind, kinds.filter((k) => k === kind).length]),
      );
      console.log(
        `chaos seed ${SEED}: ${TASKS} tasks in ${elapsed} ms, ${kills} kills, ${failed} failed, ` +
          `${stats.workerProcessesCreated} workers created; mix ${JSON.stringify(byKind)}`,
      );
    },
  );
});
