/**
 * The worker's side of future.usage (src/child/usage.ts) on fake cgroup
 * files, and the pool's tally of the totals its results carry
 * (src/parent/containment/usage.ts).
 */
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, test } from 'vitest';
import { clock } from '../src/child/clock.js';
import { UsageCounter } from '../src/child/usage.js';
import { UsageTally } from '../src/parent/containment/usage.js';

/** This thread's CPU time, µs (the process's before Node 22.19, as for the counter). */
function threadCpu(): number {
  const perThread = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage;
  const { user, system } = perThread ? perThread.call(process) : process.cpuUsage();
  return user + system;
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A worker's counter over fake cgroup files: `cpu.stat` at `usec`, a memory peak of `peak`. */
function counterOn(
  usec: number,
  peak: number,
  resettable: boolean,
): { counter: UsageCounter; cpuStat: string; peakFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'deadpool-usage-'));
  dirs.push(dir);
  const cpuStat = join(dir, 'cpu.stat');
  const peakFile = join(dir, 'memory.max_usage_in_bytes');
  writeFileSync(cpuStat, `usage_usec ${usec}\nuser_usec 1\nsystem_usec 2\n`);
  writeFileSync(peakFile, `${peak}\n`);
  const memoryPeak = { file: peakFile, resettable };
  return {
    counter: new UsageCounter({ kill: '', cpuStat, memoryPeak }),
    cpuStat,
    peakFile,
  };
}

describe('UsageCounter (the worker)', () => {
  test("takes the cgroup's CPU total at a reading, its own CPU between readings", () => {
    const { counter, cpuStat, peakFile } = counterOn(5_000_000, 300 << 20, true);
    counter.read();
    const atReading = counter.total();
    expect(atReading).toBeGreaterThanOrEqual(5_000_000);
    expect(atReading).toBeLessThan(5_000_000 + 50_000);
    expect(counter.peak).toBe(300 << 20);
    // v1's peak stays until the next task starts: a worker killed before then
    // still shows the task's peak to the pool. Then it is reset, so the next
    // reading covers only what came after.
    expect(readFileSync(peakFile, 'latin1').trim()).toBe(String(300 << 20));
    counter.taskStarts();
    expect(readFileSync(peakFile, 'latin1')).toBe('0');
    writeFileSync(peakFile, String(100 << 20));
    counter.taskStarts(); // no reading since: nothing to reset
    expect(readFileSync(peakFile, 'latin1')).toBe(String(100 << 20));
    // What the children used shows at the next reading, not before.
    writeFileSync(cpuStat, 'usage_usec 7000000\n');
    expect(counter.total()).toBeLessThan(7_000_000);
    counter.read();
    expect(counter.total()).toBeGreaterThanOrEqual(7_000_000);
  });

  test("counts on the cgroup's scale: what the process used before it moved in is not in the total", () => {
    // This process has used far more than 2 ms of CPU since it started (made
    // sure of here); its cgroup (the pool's figure for a worker that dies) says 2 ms.
    const used = (): number => process.cpuUsage().user + process.cpuUsage().system;
    while (used() < 200_000); // at least 200 ms

    const { counter } = counterOn(2_000, 1, false);
    counter.read();
    expect(counter.total()).toBeGreaterThanOrEqual(2_000);
    expect(counter.total()).toBeLessThan(2_000 + 50_000);
  });

  test('never goes backwards when the kernel figure lags its own', () => {
    const { counter } = counterOn(1_000, 1, false);
    counter.read();
    const first = counter.total();
    // 20 ms of CPU on the clock the counter uses between readings: this
    // thread's. The process's also counts V8's helper threads (compiling this
    // very loop, say), and once reached 20 ms while this thread had used 17.
    const until = threadCpu() + 20_000;
    while (threadCpu() < until);
    const grown = counter.total();
    expect(grown - first).toBeGreaterThanOrEqual(20_000);
    counter.read(); // the cgroup still says 1 ms
    expect(counter.total()).toBeGreaterThanOrEqual(grown);
  });

  test("between readings counts the main thread's CPU; another thread's shows at the next reading", async () => {
    // Where Node has process.threadCpuUsage (22.19 and later): the whole
    // process's CPU is read only at a reading (it walks every thread).
    const perThread =
      typeof (process as { threadCpuUsage?: unknown }).threadCpuUsage === 'function';
    const { counter } = counterOn(1_000, 1, false);
    counter.read();
    const before = counter.total();
    // What this thread itself spends meanwhile (starting the other thread, a
    // garbage collection) is its own CPU, and counted (Node >= 22.19).
    const ownBefore = threadCpu();
    // 60 ms of CPU on another thread while this one waits: counted on that
    // thread's clock (the process's before Node 22.19), not the wall's, which
    // on a busy machine gives it less.
    const spin = new Worker(
      `const cpu = () => { const u = (process.threadCpuUsage ?? process.cpuUsage).call(process); return u.user + u.system; };
      const end = cpu() + 60_000; while (cpu() < end);`,
      { eval: true },
    );
    await once(spin, 'exit');
    const between = counter.total() - before;
    const own = threadCpu() - ownBefore;
    // The other thread's 60 ms are in it only where the process's CPU is read.
    if (perThread) expect(between - own).toBeLessThan(30_000);
    else expect(between).toBeGreaterThanOrEqual(50_000);
    counter.read(); // the cgroup still says 1 ms: the process's own count is the floor
    expect(counter.total() - before).toBeGreaterThanOrEqual(50_000);
  });

  test('reads the kernel after a task of 1 ms or more, and after a second without a reading', () => {
    const { counter } = counterOn(1_000, 1, false);
    // The worker's clock, which the runner passes in (src/child/clock.ts).
    const now = clock();
    expect(counter.due(0.01, now)).toBe(true); // never read yet
    counter.read();
    const at = clock();
    expect(counter.due(0.01, at)).toBe(false);
    expect(counter.due(1, at)).toBe(true);
    expect(counter.due(0.01, at + 999)).toBe(false);
    expect(counter.due(0.01, at + 1_000)).toBe(true);
  });
});

describe('UsageTally (the pool)', () => {
  test('a result counts what ran since the message before it; peaks stay until a new one comes', () => {
    const tally = new UsageTally();
    expect(tally.add({ cpu: 40_000, peak: 50 << 20 })).toEqual({
      cpuTimeMs: 40,
      peakMemoryBytes: 50 << 20,
    });
    expect(tally.add({ cpu: 40_500 })).toEqual({ cpuTimeMs: 0.5, peakMemoryBytes: 50 << 20 });
    expect(tally.add({ cpu: 190_500, peak: 60 << 20 })).toEqual({
      cpuTimeMs: 150,
      peakMemoryBytes: 60 << 20,
    });
    // the worker died during the next task: the kernel's total then, and its peak if known
    expect(tally.final(290_500, undefined)).toEqual({ cpuTimeMs: 100, peakMemoryBytes: 60 << 20 });
    expect(tally.final(undefined, 70 << 20)).toEqual({ cpuTimeMs: 0, peakMemoryBytes: 70 << 20 });
  });
});
