/**
 * deadpool/bullmq against a real Redis, one machine in this process: a typed
 * round trip, priorities over the whole queue, errors reaching the submitter
 * with class and code, retries per `attempts` and `retryOn`, and a job whose
 * name is not a registered task.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { RemoteFuture, UNKNOWN_TASK } from '../dist/bullmq/index.js';
import { TimeoutError } from '../dist/index.js';
import {
  add,
  block,
  count,
  fail,
  failCounting,
  flood,
  greet,
  record,
} from './fixtures/bullmq/tasks.mjs';
import { secret } from './fixtures/bullmq/unregistered.mjs';
import { gate, rejection, tempDir, waitFor } from './helpers/index.js';
import { bullQueue, machine, markers, queueName, submitter } from './helpers/bullmq.js';
import { describeWithRedis } from './helpers/redis.js';

describeWithRedis('deadpool/bullmq on one machine', (redis) => {
  it('runs a task on a machine and returns its typed result', async () => {
    const name = queueName();
    const { pool } = await machine(redis(), name);
    const queue = submitter(redis(), name);
    const sum = queue.submit(add, [2, 3]);
    expectTypeOf(sum).toEqualTypeOf<RemoteFuture<number>>();
    const hello = queue.submit(greet, ['ada'], { jobId: 'greeting-1' });
    expect(hello.id).toBe('greeting-1');
    expect(typeof sum.id).toBe('string');
    await sum.added;
    expect(await sum).toBe(5);
    const greeting = await hello.result(10_000);
    expectTypeOf(greeting.text).toEqualTypeOf<string>();
    expect(greeting).toMatchObject({ text: 'hello ada', machine: process.pid });
    expect(await hello.state()).toBe('completed');
    expect(pool.getStatistics().tasksCompleted).toBe(2);
    const typeOnly = (): void => {
      // @ts-expect-error add takes two numbers
      void queue.submit(add, ['2', 3]);
      // @ts-expect-error greet needs its name
      void queue.submit(greet, []);
    };
    expect(typeof typeOnly).toBe('function');
  });

  it('carries reportProgress values to the RemoteFuture in order, the last one before the result', async () => {
    const name = queueName();
    await machine(redis(), name);
    const queue = submitter(redis(), name);
    const seen: unknown[] = [];
    const viaOption: unknown[] = [];
    const future = queue.submit(count, [20, 10], { onProgress: (value) => viaOption.push(value) });
    future.addProgressCallback((value, f) => {
      expect(f).toBe(future);
      expect(f.done()).toBe(false);
      seen.push(value);
    });
    expect(await future).toBe(20);
    // Throttled to one write per 100 ms: the first value at once, the last before the result.
    expect(seen[0]).toBe(1);
    expect(seen.at(-1)).toBe(20);
    expect(seen.length).toBeLessThan(20);
    expect([...(seen as number[])].sort((x, y) => x - y)).toEqual(seen);
    expect(viaOption).toEqual(seen);
    // A flood is coalesced to a handful of writes, ending with the last value.
    const flooded: unknown[] = [];
    const many = queue.submit(flood, [5_000]);
    many.addProgressCallback((value) => flooded.push(value));
    expect(await many).toBe(5_000);
    expect(flooded.at(-1)).toBe(4_999);
    expect(flooded.length).toBeLessThan(50);
  });

  it('refuses a task that is not a defineTask handle, and bad options, at once', () => {
    const queue = submitter(redis(), queueName());
    expect(() => queue.submit(() => 1, [])).toThrow(/`task` to be a defineTask\(\) handle/);
    expect(() => queue.submit(add, [1, 2], { priority: -1 })).toThrow(RangeError);
    expect(() => queue.submit(add, [1, 2], { jobId: '42' })).toThrow(/jobId/);
    expect(() => queue.submit(add, [1, 2], { timeout: 0 })).toThrow(/timeout/);
  });

  it('result(ms) rejects with TimeoutError when the job is not done in time, and the job goes on', async () => {
    const name = queueName();
    await machine(redis(), name);
    const queue = submitter(redis(), name);
    const g = gate();
    const future = queue.submit(block, [g.path]);
    expect(await rejection(future.result(50))).toBeInstanceOf(TimeoutError);
    g.open();
    expect((await future).machine).toBe(process.pid);
  });

  it('runs jobs by priority over the whole queue: 0 (the default) first, FIFO within one', async () => {
    const name = queueName();
    const queue = submitter(redis(), name);
    const g = gate();
    const order = join(tempDir(), 'order.txt');
    const blocker = queue.submit(block, [g.path]);
    await blocker.added;
    const jobs = [
      queue.submit(record, [order, 'p3'], { priority: 3 }),
      queue.submit(record, [order, 'default-a']),
      queue.submit(record, [order, 'p1'], { priority: 1 }),
      queue.submit(record, [order, 'p0'], { priority: 0 }),
      queue.submit(record, [order, 'default-b']),
      queue.submit(record, [order, 'p2'], { priority: 2 }),
    ];
    await Promise.all(jobs.map((job) => job.added));
    // One machine, one job at a time; it starts with the blocker, the only job it could take.
    await machine(redis(), name, { concurrency: 1 });
    await waitFor(async () => (await blocker.state()) === 'active', { what: 'the blocker to run' });
    g.open();
    await Promise.all(jobs);
    const ran = readFileSync(order, 'utf8').trim().split('\n');
    expect(ran).toEqual(['default-a', 'p0', 'default-b', 'p1', 'p2', 'p3']);
    const raw = await bullQueue(redis(), name).getJob(jobs[0]!.id);
    expect(raw?.opts.priority).toBe(4);
  });

  it('delivers the final error with its class name and code after the attempts run out', async () => {
    const name = queueName();
    await machine(redis(), name);
    const queue = submitter(redis(), name);
    const dir = tempDir();
    const counted = queue.submit(failCounting, [dir], { attempts: 3 });
    const error = await rejection(queue.submit(fail, ['too far', 'E_FAR'], { attempts: 2 }));
    expect(error).toBeInstanceOf(RangeError);
    expect(error).toMatchObject({ name: 'RangeError', code: 'E_FAR', message: 'too far' });
    expect(await rejection(counted)).toMatchObject({ message: 'failing on purpose' });
    expect(markers(dir, /^attempt\./)).toHaveLength(3);
    const raw = await bullQueue(redis(), name).getJob(counted.id);
    expect(raw?.attemptsMade).toBe(3);
  });

  it('does not retry an error that retryOn refuses', async () => {
    const name = queueName();
    await machine(redis(), name, {
      retryOn: (error) => !(error instanceof Error && error.message === 'failing on purpose'),
    });
    const queue = submitter(redis(), name);
    const dir = tempDir();
    await rejection(queue.submit(failCounting, [dir], { attempts: 5 }));
    expect(markers(dir, /^attempt\./)).toHaveLength(1);
  });

  it('fails a job whose name is not a registered task at once, without retries, never loading it', async () => {
    const name = queueName();
    const marker = join(tempDir(), 'imported');
    const { pool } = await machine(redis(), name, {
      pool: { maxWorkers: 1, env: { ...process.env, DEADPOOL_IMPORT_MARKER: marker } },
    });
    const queue = submitter(redis(), name);
    const error = await rejection(queue.submit(secret, [], { attempts: 5 }));
    expect(error).toMatchObject({ code: UNKNOWN_TASK });
    expect(String((error as Error).message)).toMatch(/`secret`, which is not registered/);
    // A raw BullMQ job naming a module path is refused the same way.
    const raw = bullQueue(redis(), name);
    const path = new URL('./fixtures/bullmq/unregistered.mjs', import.meta.url).pathname;
    const job = await raw.add(path, { args: [] }, { attempts: 5 });
    await waitFor(async () => (await job.getState()) === 'failed', { what: 'the raw job to fail' });
    const failed = await raw.getJob(job.id!);
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.failedReason).toMatch(/^Error \[ERR_DEADPOOL_UNKNOWN_TASK\]: /);
    expect(pool.getStatistics().tasksReceived).toBe(0);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('deadpool/bullmq entry', () => {
  it('keeps bullmq and ioredis out of every module but dist/bullmq', () => {
    const dist = fileURLToPath(new URL('../dist/', import.meta.url));
    const importers = readdirSync(dist, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.js') && !file.startsWith('bullmq'))
      .filter((file) =>
        /from ['"](bullmq|ioredis)['"]/.test(readFileSync(join(dist, file), 'utf8')),
      );
    expect(importers).toEqual([]);
  });
});
