/**
 * Kernel limits on this host: `maxTaskProcesses` (pids controller; forks past
 * it fail with EAGAIN), `memoryLimitBytes` (memory controller: the tree is
 * stopped at the cap, MemoryLimitError, also when only a grandchild was
 * OOM-killed), and `future.usage` counting every process a task started.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ContainmentError,
  MemoryLimitError,
  TimeoutError,
  WorkerStartError,
  type Deadpool,
} from '../dist/index.js';
import { twice } from './fixtures/faults/basic.mjs';
import {
  burnInChild,
  forkBomb,
  grandchildAllocates,
  spawnUntilRefused,
} from './fixtures/containment/tasks.mjs';
import {
  cgroupOf,
  nextEvent,
  rejection,
  started,
  tempDir,
  waitFor,
  makePool,
} from './helpers/index.js';

const MB = 1024 * 1024;

/** Processes in the v2 cgroup of worker `pid` now. */
function processesIn(pid: number): number {
  const dir = join('/sys/fs/cgroup/unified', cgroupOf(pid, '')!);
  return readFileSync(join(dir, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).length;
}

/** Forks the kernel refused in the pids cgroup of worker `pid`. */
function refusedForks(pid: number): number {
  const dir = join('/sys/fs/cgroup/pids', cgroupOf(pid, 'pids')!);
  return Number(/max (\d+)/.exec(readFileSync(join(dir, 'pids.events'), 'latin1'))?.[1] ?? 0);
}

async function stillWorks(pool: Deadpool): Promise<void> {
  expect((await pool.submit(twice, [20])).value).toBe(41);
}

describe('maxTaskProcesses', () => {
  it('refuses forks past the limit with EAGAIN inside the task; the pool goes on', async () => {
    const { pool } = makePool({ maxWorkers: 1, maxTaskProcesses: 5 });
    const task = pool.submit(spawnUntilRefused, [12]);
    const worker = await started(task);
    const { started: count, codes } = await task;
    expect(count).toBe(4); // the worker and 4 children: 5 processes
    expect(codes.length).toBe(8);
    expect(new Set(codes)).toEqual(new Set(['EAGAIN']));
    expect(processesIn(worker)).toBeLessThanOrEqual(5);
    await stillWorks(pool);
  });

  it('bounds a fork bomb, whose timeout then leaves nothing', async () => {
    const { pool } = makePool({ maxWorkers: 1, maxTaskProcesses: 30 });
    const task = pool.submit(forkBomb, [join(tempDir(), 'bomb')], { timeout: 3_000 });
    const worker = await started(task);
    let most = 0;
    await waitFor(
      () => {
        most = Math.max(most, processesIn(worker));
        return refusedForks(worker) > 0;
      },
      { timeoutMs: 3_000, intervalMs: 2, what: 'the kernel refusing forks' },
    );
    expect(most).toBeLessThanOrEqual(30);
    expect(await rejection(task)).toBeInstanceOf(TimeoutError);
    await stillWorks(pool);
  });

  it('must be an integer >= 1, and needs kernel support', () => {
    expect(() => makePool({ maxTaskProcesses: 0 })).toThrow(
      new RangeError('Expected `maxTaskProcesses` to be an integer >= 1, got `0` (number)'),
    );
    let error: unknown;
    try {
      makePool({ maxTaskProcesses: 4, containment: 'process-group' });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ContainmentError);
    expect(error).toMatchObject({ code: 'ERR_DEADPOOL_CONTAINMENT' });
    expect((error as Error).message).toMatch(/maxTaskProcesses needs the kernel's process limit/);
  });
});

describe('memoryLimitBytes under the kernel', () => {
  it('stops a grandchild racing past the cap: MemoryLimitError, the tree never above it', async () => {
    const limit = 300 * MB;
    const { pool } = makePool({ maxWorkers: 1, memoryLimitBytes: limit });
    const task = pool.submit(grandchildAllocates, [2_000]);
    const worker = await started(task);
    const capped = join('/sys/fs/cgroup/memory', cgroupOf(worker, 'memory')!);
    expect(
      Number(readFileSync(join(capped, 'memory.limit_in_bytes'), 'latin1')),
    ).toBeLessThanOrEqual(limit);
    const error = await rejection(task);
    expect(error).toBeInstanceOf(MemoryLimitError);
    expect(error).toMatchObject({ code: 'ERR_DEADPOOL_MEMORY_LIMIT', pid: worker });
    expect((error as Error).message).toMatch(
      /the kernel stopped its worker's process tree at the cap/,
    );
    expect(task.usage!.peakMemoryBytes).toBeLessThanOrEqual(limit);
    expect(task.usage!.peakMemoryBytes).toBeGreaterThan(200 * MB);
    await stillWorks(pool);
  });
});

describe('a worker whose cgroups cannot be made', () => {
  it("is never started under 'kernel': what waits fails with WorkerStartError saying why", async () => {
    const { pool, pids } = makePool({ maxWorkers: 1, containment: 'kernel' });
    const first = pool.submit(twice, [1]);
    const worker = await started(first);
    await first;
    // The kernel refuses every new cgroup below the pool's from now on.
    const poolDir = dirname(join('/sys/fs/cgroup/unified', cgroupOf(worker, '')!));
    writeFileSync(join(poolDir, 'cgroup.max.descendants'), '0');
    const exited = nextEvent(pool, 'workerExit');
    process.kill(worker, 'SIGKILL'); // the pool's own idle worker, alive: it ran `first`
    await exited;
    const error = await rejection(pool.submit(twice, [2]));
    expect(error).toBeInstanceOf(WorkerStartError);
    expect((error as Error).message).toMatch(
      /could not create the cgroups of a worker.*a worker runs only inside its cgroups here/,
    );
    expect([...pids]).toEqual([worker]); // no worker ran outside its cgroups
  });
});

describe('future.usage', () => {
  it('counts the CPU of a child the task started, and deadpool_task_cpu_seconds_total by name', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const task = pool.submit(burnInChild, [150], { name: 'burn' });
    expect(task.usage).toBeUndefined();
    await task;
    expect(task.usage!.cpuTimeMs).toBeGreaterThanOrEqual(150);
    expect(task.usage!.peakMemoryBytes).toBeGreaterThan(0);
    const line = pool
      .metrics()
      .split('\n')
      .find((l) => l.startsWith('deadpool_task_cpu_seconds_total{name="burn"}'));
    expect(Number(line?.split(' ')[1])).toBeGreaterThanOrEqual(0.15);
  });

  it("with 'process-group', the worker's own figures (its waited-for children included)", async () => {
    const { pool } = makePool({ maxWorkers: 1, containment: 'process-group' });
    const task = pool.submit(burnInChild, [150]);
    await task;
    expect(task.usage!.cpuTimeMs).toBeGreaterThanOrEqual(150);
    expect(task.usage!.peakMemoryBytes).toBeGreaterThan(10 * MB);
  });
});
