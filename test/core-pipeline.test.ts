/**
 * Pipelined dispatch (docs/api.md "submit"; docs/guarantees.md "Decisions"): while recent tasks are
 * short, a few tasks wait inside each busy worker. Each still counts as
 * waiting; none is lost, run twice or started out of priority order; a later
 * task of higher priority waits behind at most one of them; each can be
 * cancelled; each goes back, never failed, when its worker dies, unless the
 * worker had started it (then it fails with the worker, never run twice);
 * and its clocks count from when it starts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BacklogFullError,
  CancelledError,
  ProcessError,
  TimeoutError,
  type Deadpool,
  type DeadpoolOptions,
  type Future,
} from '../dist/index.js';
import { logged, loggedBlock, loggedGate, loggedSleep } from './fixtures/core/pipeline.mjs';
import {
  gate,
  killChild,
  makePool,
  mulberry32,
  rejection,
  started,
  tempDir,
  turn,
  waitFor,
} from './helpers/index.js';

/** A fresh, empty start log. */
function startLog(): string {
  const path = join(tempDir(), 'starts.log');
  writeFileSync(path, '');
  return path;
}

/** The tags of the tasks that started, in the order they started. */
function starts(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean);
}

/**
 * Short tasks until the pool queues tasks inside a busy worker. It does while
 * recent run times, timed in the worker, average under 5 ms (docs/dispatch.md);
 * on a loaded machine a worker descheduled mid-task can time a few above that,
 * so bursts follow until one of them had a task start from a worker's queue.
 */
async function warmUp(pool: Deadpool, log: string): Promise<void> {
  for (let i = 0; i < 20; i++) await pool.submit(logged, [log, `w${i}`]);
  let burst = 0;
  await waitFor(
    async () => {
      const before = pool.getStatistics().tasksPipelined;
      const tags = Array.from({ length: 4 }, (_, i) => `wb${burst}-${i}`);
      burst++;
      await Promise.all(tags.map((tag) => pool.submit(logged, [log, tag])));
      return pool.getStatistics().tasksPipelined > before;
    },
    { what: 'tasks queued inside a busy worker' },
  );
}

/** A pool (one worker unless `options` say otherwise) and its log, warmed up until it pipelines. */
async function warmPool(options: DeadpoolOptions = {}): Promise<{ pool: Deadpool; log: string }> {
  const { pool } = makePool({ maxWorkers: 1, ...options });
  const log = startLog();
  await warmUp(pool, log);
  return { pool, log };
}

/**
 * Hold this process's event loop, so it reads no message from its workers,
 * until `done()` holds (checked every millisecond, for 10 s at most).
 */
function holdUntil(done: () => boolean): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const end = Date.now() + 10_000;
  while (!done()) {
    if (Date.now() > end) throw new Error('holdUntil: not met within 10 s');
    Atomics.wait(cell, 0, 0, 1);
  }
}

/**
 * A scenario's premise, that the pool queues tasks inside a busy worker, did
 * not hold: a warm-up task descheduled under load can lift the average run
 * time over 5 ms after warmUp's last check, and pipelining stays off until
 * more results come in. The pool decides when the tasks are submitted, so
 * the scenario knows as soon as its first task has started.
 */
class NotPipelining extends Error {}

/** Right after a scenario's first task started: something waits inside its worker, else NotPipelining. */
function expectQueued(pool: Deadpool): number {
  const queued = pool.getStatistics().tasksWaitingInWorkers;
  if (queued === 0) throw new NotPipelining('nothing was queued inside the busy worker');
  return queued;
}

/** Run `scenario` (on a pool of its own), again when its premise did not hold; a failure of its own fails at once. */
async function pipelined(scenario: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await scenario();
      return;
    } catch (error) {
      if (!(error instanceof NotPipelining) || attempt === 3) throw error;
    }
  }
}

/**
 * A warmed-up pool of one worker running `blocker` (held until `door`
 * opens) with `tags` submitted behind it; how many of those wait inside the
 * worker depends on how short recent tasks were, but at least one does
 * (else NotPipelining).
 */
async function heldWithQueue(tags: string[], options: DeadpoolOptions = {}) {
  const { pool, log } = await warmPool(options);
  const pipelinedBefore = pool.getStatistics().tasksPipelined;
  const door = gate();
  const blocker = pool.submit(loggedGate, [log, 'blocker', door.path]);
  const queued = tags.map((tag) => pool.submit(logged, [log, tag]));
  const blockerPid = await started(blocker);
  expectQueued(pool);
  return { pool, log, door, blocker, queued, blockerPid, pipelinedBefore };
}

describe('pipelining', () => {
  it('runs a burst of random priorities with nothing lost or run twice, in priority order', async () => {
    const { pool, log } = await warmPool();
    const random = mulberry32(7);
    const burst = Array.from({ length: 300 }, (_, i) => ({
      tag: `t${i}`,
      priority: Math.floor(random() * 4),
      i,
    }));
    const futures = burst.map(({ tag, priority }) => pool.submit(logged, [log, tag], { priority }));
    expect(await Promise.all(futures)).toEqual(burst.map((b) => b.tag));
    const order = starts(log).filter((tag) => tag.startsWith('t'));
    // The first went straight to the idle worker; every other one started in
    // priority order, then submission order.
    const rest = burst.slice(1).sort((a, b) => a.priority - b.priority || a.i - b.i);
    expect(order).toEqual([burst[0]!.tag, ...rest.map((b) => b.tag)]);
    expect(pool.getStatistics().tasksPipelined).toBeGreaterThan(50);
  });

  it('sends a later task of higher priority ahead of those waiting inside a busy worker', () =>
    pipelined(async () => {
      const { pool, log } = await warmPool();
      const door = gate();
      const running = pool.submit(loggedGate, [log, 'running', door.path], { priority: 5 });
      const waiting = pool.submit(logged, [log, 'behind'], { priority: 5 });
      await started(running);
      expect(expectQueued(pool)).toBe(1);
      const urgent = pool.submit(logged, [log, 'urgent'], { priority: 0 });
      await waitFor(() => pool.getStatistics().tasksWaitingInWorkers === 2, {
        what: 'the urgent task to join the worker',
      });
      door.open();
      await Promise.all([running, waiting, urgent]);
      expect(starts(log).filter((t) => !t.startsWith('w'))).toEqual([
        'running',
        'urgent',
        'behind',
      ]);
    }));

  it('queues at most one task of a priority other than 0 in a worker, so a later urgent one waits behind at most one', () =>
    pipelined(async () => {
      const { pool, log } = await warmPool();
      const door = gate();
      const running = pool.submit(loggedGate, [log, 'running', door.path], { priority: 5 });
      const low = Array.from({ length: 5 }, (_, i) =>
        pool.submit(logged, [log, `low${i}`], { priority: 5 }),
      );
      await started(running);
      expect(expectQueued(pool)).toBe(1);
      // The other four stay in the backlog, where priority applies at once.
      expect(pool.getStatistics().backlogSize).toBe(5);
      door.open();
      expect(await Promise.all(low)).toEqual(low.map((_, i) => `low${i}`));
      await running;
    }));

  it('counts a queued task as waiting, without pid, against maxBacklog; cancel() takes it back at once', () =>
    pipelined(async () => {
      const { pool, log, door, blocker, queued, pipelinedBefore } = await heldWithQueue(
        ['a', 'b', 'c'],
        { maxBacklog: 3 },
      );
      expect(pool.getStatistics().backlogSize).toBe(3);
      for (const f of queued) expect([f.running(), f.pid]).toEqual([false, undefined]);
      expect(() => pool.submit(logged, [log, 'one too many'])).toThrow(BacklogFullError);

      expect(queued[1]!.cancel()).toBe(true);
      expect(queued[1]!.cancelled()).toBe(true);
      expect(queued[2]!.cancelAndKill()).toBe(true);
      expect(await rejection(queued[1]!)).toBeInstanceOf(CancelledError);
      await waitFor(() => pool.getStatistics().backlogSize === 1, {
        what: 'the two cancelled tasks to be gone (handed back by the worker)',
      });
      door.open();
      expect(await blocker).toBe('blocker');
      expect(await queued[0]!).toBe('a');
      expect(queued[2]!.cancelled()).toBe(true);
      const order = starts(log).filter((t) => !t.startsWith('w'));
      expect(order).toEqual(['blocker', 'a']);
      expect(pool.getStatistics().tasksPipelined - pipelinedBefore).toBe(1);
      expect(pool.getStatistics()).toMatchObject({
        tasksCancelled: 2,
        backlogSize: 0,
        workerExits: expect.objectContaining({ killed: 0 }),
      });
    }));

  it('puts the tasks queued inside a worker that dies back in the backlog, never failed, each run once', () =>
    pipelined(async () => {
      const tags = Array.from({ length: 6 }, (_, i) => `q${i}`);
      const { pool, log, blocker, queued, blockerPid: victim } = await heldWithQueue(tags);
      expect(killChild(victim)).toBe(true);
      expect(await rejection(blocker)).toBeInstanceOf(ProcessError);
      expect(await Promise.all(queued)).toEqual(queued.map((_, i) => `q${i}`));
      for (const f of queued) expect(f.pid).not.toBe(victim);
      const order = starts(log).filter((t) => t.startsWith('q'));
      expect(order).toEqual(['q0', 'q1', 'q2', 'q3', 'q4', 'q5']);
      expect(pool.getStatistics().tasksFailed).toBe(1);
    }));

  it('fails, and never runs again, a queued task that had started when the pool killed its worker; the rest go back', () =>
    pipelined(async () => {
      const { pool, log } = await warmPool();
      const [first, second] = [gate(), gate()];
      const a = pool.submit(loggedGate, [log, 'a', first.path]);
      const b = pool.submit(loggedGate, [log, 'b', second.path]);
      const c = pool.submit(logged, [log, 'c']);
      await started(a);
      expectQueued(pool);
      // `a` returns and its worker starts `b` while this process reads no
      // message: `a`'s result, naming `b` as started, is unread at the kill.
      first.open();
      holdUntil(() => starts(log).includes('b'));
      expect(a.cancelAndKill()).toBe(true);
      second.open(); // `b`, had it been put back, would now run to its end
      expect(await rejection(a)).toBeInstanceOf(CancelledError);
      const error = await rejection(b);
      expect(error).toBeInstanceOf(ProcessError);
      expect((error as ProcessError).message).toMatch(
        /because of task \d+; it may have run in part/,
      );
      expect(await c).toBe('c');
      expect(starts(log).filter((t) => !t.startsWith('w'))).toEqual(['a', 'b', 'c']);
      expect(pool.getStatistics()).toMatchObject({ tasksCancelled: 1, tasksFailed: 1 });
    }));

  it('starts a queued task’s timeout when it starts, not when it was queued', () =>
    pipelined(async () => {
      const { pool, log } = await warmPool();
      const before = pool.getStatistics().tasksPipelined;
      const first = pool.submit(loggedSleep, [log, 'first', 400]);
      const second = pool.submit(loggedSleep, [log, 'second', 750], { timeout: 1_000 });
      await started(first);
      expectQueued(pool);
      // 400 ms behind the first, then 750 ms of its own: 1,150 ms after it was
      // queued, but within its 1,000 ms timeout from its start.
      expect(await Promise.all([first, second])).toEqual(['first', 'second']);
      expect(pool.getStatistics().tasksPipelined - before).toBe(1);
    }));

  it('applies queueTimeout to a task queued inside a worker: it never runs', () =>
    pipelined(async () => {
      const { pool, log } = await warmPool();
      const door = gate();
      const blocker = pool.submit(loggedGate, [log, 'blocker', door.path]);
      const late = pool.submit(logged, [log, 'late'], { queueTimeout: 150 });
      await started(blocker);
      expect(expectQueued(pool)).toBe(1);
      expect(await rejection(late)).toMatchObject({ name: 'TimeoutError', phase: 'queue' });
      expect(await rejection(late)).toBeInstanceOf(TimeoutError);
      door.open();
      await blocker;
      expect(await pool.submit(logged, [log, 'after'])).toBe('after');
      expect(starts(log)).not.toContain('late');
      expect(pool.getStatistics()).toMatchObject({ tasksTimedOut: 1, tasksFailed: 1 });
    }));

  it('never queues past maxTasksPerChild: every worker runs at most that many', async () => {
    const { pool } = makePool({ maxWorkers: 1, maxTasksPerChild: 4 });
    const log = startLog();
    const futures: Future<string>[] = Array.from({ length: 40 }, (_, i) =>
      pool.submit(logged, [log, `m${i}`]),
    );
    await Promise.all(futures);
    const perWorker = new Map<number, number>();
    for (const f of futures) perWorker.set(f.pid!, (perWorker.get(f.pid!) ?? 0) + 1);
    expect(Math.max(...perWorker.values())).toBeLessThanOrEqual(4);
    expect(starts(log)).toHaveLength(40);
    expect(pool.getStatistics().tasksFailed).toBe(0);
  });

  it('takes queued tasks back when the workers are recycled; each still runs once', () =>
    pipelined(async () => {
      const tags = Array.from({ length: 5 }, (_, i) => `r${i}`);
      const { pool, log, door, blocker, queued, blockerPid: oldPid } = await heldWithQueue(tags);
      const recycled = pool.recycleWorkers();
      await waitFor(() => pool.getStatistics().tasksWaitingInWorkers === 0, {
        what: 'the queued tasks to come back from the retiring worker',
      });
      door.open();
      await Promise.all([blocker, recycled, ...queued]);
      for (const f of queued) expect(f.pid).not.toBe(oldPid);
      expect(starts(log).filter((t) => t.startsWith('r'))).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    }));

  it('queues nothing behind a task that turned out long: a new task waits for the first worker free', async () => {
    const { pool, log } = await warmPool({ maxWorkers: 2 });
    const [first, second] = [gate(), gate()];
    // One on each worker (a worker still starting would get b queued behind a).
    await waitFor(() => pool.getStatistics().workerProcessesIdle === 2, {
      what: 'both workers idle',
    });
    // Both block their worker's event loop: neither could hand a task back.
    const a = pool.submit(loggedBlock, [log, 'a', first.path]);
    const b = pool.submit(loggedBlock, [log, 'b', second.path]);
    const [, bPid] = await Promise.all([started(a), started(b)]);
    // Both have now run longer than a short task (5 ms, docs/dispatch.md).
    const since = performance.now();
    await waitFor(() => performance.now() - since > 20);
    const c = pool.submit(logged, [log, 'c']);
    await turn();
    expect(pool.getStatistics()).toMatchObject({ tasksWaitingInWorkers: 0, backlogSize: 1 });
    second.open();
    expect(await c).toBe('c');
    expect(c.pid).toBe(bPid);
    expect(a.done()).toBe(false); // it still blocks
    first.open();
    expect(await Promise.all([a, b])).toEqual(['a', 'b']);
  });

  it('lets an idle worker take back the tasks waiting behind one that turned out long', async () => {
    const { pool, log } = await warmPool({ maxWorkers: 2 });
    const door = gate();
    const long = pool.submit(loggedGate, [log, 'long', door.path]);
    const short = pool.submit(loggedSleep, [log, 'short', 30]);
    const behind = Array.from({ length: 4 }, (_, i) => pool.submit(logged, [log, `b${i}`]));
    const longPid = await started(long);
    // Whatever waited behind the long task ends up on the other worker.
    expect(await Promise.all(behind)).toEqual(['b0', 'b1', 'b2', 'b3']);
    for (const f of behind) expect(f.pid).not.toBe(longPid);
    expect(await short).toBe('short');
    door.open();
    expect(await long).toBe('long');
  });
});
