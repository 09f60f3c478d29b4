/**
 * BullMQ test objects that are cleaned up after the test that made them:
 * machines in this process (createQueueWorker), machines as processes of
 * their own (fixtures/bullmq/machine.mjs), submitting queues and raw BullMQ
 * queues. Each test uses a queue name of its own.
 */
import { Queue, QueueEvents } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import {
  createQueueWorker,
  DeadpoolQueue,
  type QueueWorker,
  type QueueWorkerOptions,
} from '../../dist/bullmq/index.js';
import * as tasks from '../fixtures/bullmq/tasks.mjs';
import { waitFor } from './events.js';
import { descendantsOf, killAfterTest, runScript, type Script } from './processes.js';
import type { RedisServer } from './redis.js';

/** Stalled jobs come back within about a second in tests (BullMQ's defaults are 30 s). */
export const FAST = { lockDuration: 2_000, stalledInterval: 500 } as const;

const closers: (() => Promise<unknown>)[] = [];
const scripts: Script[] = [];

afterEach(async () => {
  for (const script of scripts.splice(0)) {
    if (script.child.exitCode === null && script.child.signalCode === null) {
      killAfterTest(descendantsOf(script.child.pid!));
      script.child.kill('SIGKILL');
    }
    await script.exited;
  }
  // Last made, first closed: machines before the queues they use.
  for (const close of closers.splice(0).reverse()) await close();
});

/** A queue name no other test uses. */
export function queueName(): string {
  return `t-${randomUUID().slice(0, 8)}`;
}

/** A machine in this process, over every task of fixtures/bullmq/tasks.mjs. */
export async function machine(
  redis: RedisServer,
  queue: string,
  options: Partial<QueueWorkerOptions> = {},
): Promise<QueueWorker> {
  const made = await createQueueWorker({
    queue,
    connection: redis.connection,
    tasks: Object.values(tasks),
    pool: { maxWorkers: 1 },
    ...options,
    workerOptions: { ...FAST, ...options.workerOptions },
  });
  closers.push(() => made.close());
  return made;
}

export interface MachineConfig {
  maxWorkers?: number;
  drainTimeout?: number;
  lockDuration?: number;
  stalledInterval?: number;
}

/** A machine as a process of its own; resolves with its pid once it takes jobs. */
export async function machineProcess(
  redis: RedisServer,
  queue: string,
  config: MachineConfig = {},
): Promise<Script & { pid: number }> {
  const script = runScript(
    'machine.mjs',
    [JSON.stringify({ port: redis.port, queue, ...config })],
    'bullmq',
  );
  scripts.push(script);
  const { pid } = await script.firstLine<{ pid: number }>(20_000);
  return Object.assign(script, { pid });
}

/** The submitting side, closed after the test. */
export function submitter(
  redis: RedisServer,
  queue: string,
  defaults?: { attempts?: number },
): DeadpoolQueue {
  const made = new DeadpoolQueue(queue, {
    connection: redis.connection,
    ...(defaults ? { defaultJobOptions: defaults } : {}),
  });
  closers.push(() => made.close());
  return made;
}

/** BullMQ's own Queue, to look at jobs or add raw ones. */
export function bullQueue(redis: RedisServer, queue: string): Queue {
  const made = new Queue(queue, { connection: redis.connection });
  closers.push(() => made.close());
  return made;
}

/** BullMQ's own QueueEvents, ready to read. */
export async function bullEvents(redis: RedisServer, queue: string): Promise<QueueEvents> {
  const made = new QueueEvents(queue, { connection: redis.connection });
  closers.push(() => made.close());
  await made.waitUntilReady();
  return made;
}

/** The parsed JSON files in `dir` whose names match `pattern`. */
export function markers<T>(dir: string, pattern: RegExp): T[] {
  return readdirSync(dir)
    .filter((name) => pattern.test(name) && !name.endsWith('.tmp'))
    .map((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as T);
}

/** Waits until `dir` holds at least `count` markers matching `pattern`. */
export async function waitForMarkers<T>(
  dir: string,
  pattern: RegExp,
  count = 1,
  timeoutMs = 15_000,
): Promise<T[]> {
  return waitFor(
    () => {
      const found = markers<T>(dir, pattern);
      return found.length >= count ? found : undefined;
    },
    { timeoutMs, what: `${count} marker(s) ${pattern} in ${dir}` },
  );
}
