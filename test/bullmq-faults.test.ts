/**
 * deadpool/bullmq when jobs go wrong: a timeout kills the job's process tree
 * on the machine running it and BullMQ retries per `attempts`; a cancel from
 * the submitting process removes a waiting job or kills a running one on the
 * machine process running it, never retried; `close()` lets running jobs
 * finish within `drainTimeout` and hands the rest back without spending an
 * attempt.
 */
import { expect, it } from 'vitest';
import { CancelledError, TimeoutError } from '../dist/index.js';
import { add, block, slow, tree } from './fixtures/bullmq/tasks.mjs';
import type { Where } from './fixtures/bullmq/tasks.mjs';
import {
  expectAllGone,
  gate,
  isAlive,
  killAfterTest,
  type ProcessId,
  rejection,
  tempDir,
} from './helpers/index.js';
import {
  bullQueue,
  machine,
  machineProcess,
  queueName,
  submitter,
  waitForMarkers,
} from './helpers/bullmq.js';
import { describeWithRedis } from './helpers/redis.js';

/** `identities`: the worker's and each grandchild's pid and start time, read as they started. */
type TreeMarker = Where & { grandchildren: number[]; identities: ProcessId[] };

describeWithRedis('deadpool/bullmq faults', (redis) => {
  it('kills a timed-out job’s grandchildren on the machine running it, and BullMQ retries it per attempts', async () => {
    const name = queueName();
    await machine(redis(), name);
    const queue = submitter(redis(), name);
    const dir = tempDir();
    const future = queue.submit(tree, [dir], { timeout: 1_000, attempts: 2 });
    const [first] = await waitForMarkers<TreeMarker>(dir, /^tree\./);
    killAfterTest(first!.identities);
    expect(first!.grandchildren.every(isAlive)).toBe(true);
    // The first attempt's tree dies; the second attempt runs on a fresh worker.
    await expectAllGone([first!.pid, ...first!.grandchildren], 5_000);
    const both = await waitForMarkers<TreeMarker>(dir, /^tree\./, 2);
    const second = both.find((m) => m.pid !== first!.pid)!;
    killAfterTest(second.identities);
    const error = await rejection(future);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'ERR_DEADPOOL_TIMEOUT' });
    await expectAllGone([second.pid, ...second.grandchildren], 5_000);
    const raw = await bullQueue(redis(), name).getJob(future.id);
    expect(raw?.attemptsMade).toBe(2);
  });

  it('cancels a waiting job from another process: removed from the queue, never run', async () => {
    const name = queueName();
    await machineProcess(redis(), name, { maxWorkers: 1 });
    const queue = submitter(redis(), name);
    const g = gate();
    const dir = tempDir();
    const blocker = queue.submit(block, [g.path, dir]);
    await waitForMarkers(dir, /^block\./);
    const waiting = queue.submit(slow, [1, dir, 'never']);
    const controller = new AbortController();
    const aborted = queue.submit(slow, [1, dir, 'never'], { signal: controller.signal });
    await Promise.all([waiting.added, aborted.added]);
    expect(await waiting.cancel('not needed')).toBe(true);
    controller.abort(new Error('the user left'));
    const error = await rejection(waiting);
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as Error).cause).toBe('not needed');
    expect(await rejection(aborted)).toBeInstanceOf(CancelledError);
    expect(await waiting.state()).toBe('unknown');
    g.open();
    await blocker;
    expect(await queue.submit(add, [1, 1])).toBe(2);
    expect(await waiting.cancel()).toBe(false);
  });

  it('cancels a running job from another process: its tree is killed on that machine and it is not retried', async () => {
    const name = queueName();
    const remote = await machineProcess(redis(), name, { maxWorkers: 1 });
    const queue = submitter(redis(), name);
    const dir = tempDir();
    const future = queue.submit(tree, [dir], { attempts: 3 });
    const [marker] = await waitForMarkers<TreeMarker>(dir, /^tree\./);
    killAfterTest(marker!.identities);
    expect(marker!.machine).toBe(remote.pid);
    expect(await future.cancel('stop it')).toBe(true);
    const error = await rejection(future);
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as Error).message).toMatch(/stop it/);
    await expectAllGone([marker!.pid, ...marker!.grandchildren], 5_000);
    expect(await future.state()).toBe('failed');
    const raw = await bullQueue(redis(), name).getJob(future.id);
    expect(raw?.attemptsMade).toBe(1);
    // The machine goes on with the next job on a fresh worker.
    expect(await queue.submit(add, [2, 2])).toBe(4);
  });

  it('close() waits for a running job that finishes within drainTimeout', async () => {
    const name = queueName();
    const local = await machine(redis(), name, { drainTimeout: 20_000 });
    const queue = submitter(redis(), name);
    const dir = tempDir();
    const future = queue.submit(slow, [300, dir, 'drained']);
    await waitForMarkers(dir, /^drained\./);
    await local.close();
    expect(await future.result(0)).toMatchObject({ label: 'drained', machine: process.pid });
  });

  it('close() hands a job still running after drainTimeout back to the queue without spending an attempt', async () => {
    const name = queueName();
    const first = await machine(redis(), name, { drainTimeout: 200 });
    const queue = submitter(redis(), name);
    const g = gate();
    const dir = tempDir();
    const future = queue.submit(block, [g.path, dir], { attempts: 1 });
    const [running] = await waitForMarkers<Where>(dir, /^block\./);
    await first.close();
    await expectAllGone([running!.pid], 5_000);
    expect(['waiting', 'prioritized']).toContain(await future.state());
    const raw = await bullQueue(redis(), name).getJob(future.id);
    expect(raw?.attemptsMade).toBe(0);
    // Another machine picks it up; with one attempt allowed, it still completes.
    await machine(redis(), name);
    await waitForMarkers(dir, /^block\./, 2);
    g.open();
    expect((await future).pid).not.toBe(running!.pid);
  });
});
