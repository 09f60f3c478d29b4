/**
 * `future.usage`: the worker counts what its tasks use and sends its running
 * total with each result, so the pool reads no file per task
 * (docs/containment.md, "future.usage"). Each case runs under the kernel's
 * containment (cgroups, on this host) and under process groups.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../dist/index.js';
import { burn, burnThenHang, nothing } from './fixtures/core/usage.mjs';
import { makePool, rejection } from './helpers/index.js';

/** Calls the pool's process makes to fs's synchronous readers and writers on /proc and /sys while `body` runs. */
async function kernelFileCalls(body: () => Promise<void>): Promise<string[]> {
  const calls: string[] = [];
  const names = ['readFileSync', 'writeFileSync', 'openSync'] as const;
  const saved = names.map((name) => fs[name]);
  const mutable = fs as unknown as Record<string, (...args: unknown[]) => unknown>;
  names.forEach((name, i) => {
    const original = saved[i] as unknown as (...args: unknown[]) => unknown;
    mutable[name] = (...args: unknown[]) => {
      const path = String(args[0]);
      if (path.startsWith('/proc/') || path.startsWith('/sys/')) calls.push(`${name} ${path}`);
      return original(...args);
    };
  });
  syncBuiltinESMExports();
  try {
    await body();
  } finally {
    names.forEach(
      (name, i) => (mutable[name] = saved[i] as unknown as (...args: unknown[]) => unknown),
    );
    syncBuiltinESMExports();
  }
  return calls;
}

describe.each(['auto', 'process-group'] as const)('future.usage, containment %s', (containment) => {
  it('costs the pool no file read per task', async () => {
    const { pool } = makePool({ maxWorkers: 2, minWorkers: 2, containment });
    await pool.ready();
    const calls = await kernelFileCalls(async () => {
      const tasks = Array.from({ length: 200 }, () => pool.submit(nothing));
      await Promise.all(tasks);
      for (const task of tasks) expect(task.usage!.peakMemoryBytes).toBeGreaterThan(0);
    });
    expect(calls).toEqual([]);
  });

  it("counts each task's own CPU, not the tasks' before it", async () => {
    const { pool } = makePool({ maxWorkers: 1, containment });
    // The first run of a task module counts its import too.
    await pool.submit(burn, [0]);
    const before = pool.submit(nothing);
    const burnt = pool.submit(burn, [150]);
    const after = pool.submit(nothing);
    await Promise.all([before, burnt, after]);
    // A task that does nothing costs well under a millisecond.
    expect(before.usage!.cpuTimeMs).toBeLessThan(15);
    expect(burnt.usage!.cpuTimeMs).toBeGreaterThanOrEqual(150);
    expect(after.usage!.cpuTimeMs).toBeLessThan(15);
  });

  it('counts the CPU a task killed at its timeout used until then', async () => {
    const { pool } = makePool({ maxWorkers: 1, containment });
    await pool.ready();
    // It burns 150 ms of CPU, then waits for its timeout without using any:
    // 1 s leaves room for a loaded machine to give it a small share. Under
    // process groups the figure comes from /proc/<pid>/stat, whose user and
    // system times are each counted in 10 ms ticks.
    const task = pool.submit(burnThenHang, [150], { timeout: 1_000 });
    expect(await rejection(task)).toBeInstanceOf(TimeoutError);
    const slack = containment === 'process-group' ? 20 : 0;
    expect(task.usage!.cpuTimeMs).toBeGreaterThanOrEqual(150 - slack);
    expect(task.usage!.peakMemoryBytes).toBeGreaterThan(0);
  });
});
