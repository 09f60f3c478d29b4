/**
 * shutdown() (docs/api.md "Pool methods"): the four rows of wait × cancelFutures, from explicit
 * calls and from the constructor's defaults via Symbol.asyncDispose; idempotence.
 *
 * Each scenario: three workers each running a task that blocks until a gate
 * opens, and three more tasks waiting behind them.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CancelledError, PoolClosedError, type Deadpool, type Future } from '../dist/index.js';
import * as tasks from './fixtures/core/tasks.mjs';
import {
  isAlive,
  makePool,
  gate,
  nextEvent,
  record,
  rejection,
  turn,
  started,
  tempDir,
  within,
} from './helpers/index.js';

interface Scenario {
  pool: Deadpool;
  pids: Set<number>;
  running: Future<unknown>[];
  queued: Future<unknown>[];
  open(): void;
  markers: string[];
  /** Names of things in the order they happened: 'running settled', 'shutdown resolved', ... */
  events: string[];
}

/** Three running (blocked) tasks and three queued ones that would write marker files. */
async function scenario(
  options: { shutdownWait?: boolean; shutdownCancelFutures?: boolean } = {},
): Promise<Scenario> {
  const dir = tempDir();
  const { pool, pids } = makePool({ maxWorkers: 3, ...options });
  const g = gate(dir);
  const events: string[] = [];
  const running = [0, 1, 2].map((i) => pool.submit(tasks.block, [g.path, `ran ${i}`]));
  const markers = [0, 1, 2].map((i) => join(dir, `queued-${i}`));
  const queued = markers.map((path) => pool.submit(tasks.mark, [path, 'ran']));
  await Promise.all(running.map((f) => started(f)));
  for (const f of running) f.addDoneCallback(() => events.push('running settled'));
  return { pool, pids, running, queued, open: g.open, markers, events };
}

function observe(s: Scenario, shutdown: Promise<void>): Promise<void> {
  return shutdown.then(() => {
    s.events.push('shutdown resolved');
  });
}

/** Every worker the pool ever started is gone (zombies count as gone). */
function expectNoWorkers(s: Scenario): void {
  expect(s.pids.size).toBeGreaterThanOrEqual(3);
  for (const pid of s.pids) expect(isAlive(pid), `worker ${pid}`).toBe(false);
}

type Row = { wait: boolean; cancelFutures: boolean };

/** The four rows, checked the same way whether shutdown came from a call or from disposal. */
const rows: Array<[string, Row, (s: Scenario, shutdown: () => Promise<void>) => Promise<void>]> = [
  [
    'wait and no cancel: waiting tasks run, running ones finish, it resolves when all are done and workers exited',
    { wait: true, cancelFutures: false },
    async (s, shutdown) => {
      const done = observe(s, shutdown());
      // Only workers exiting could resolve it, and none can while the gate is closed.
      await turn();
      expect(s.events).not.toContain('shutdown resolved');
      s.open();
      await within(done, 10_000, 'shutdown');
      expect(s.events.indexOf('shutdown resolved')).toBe(s.events.length - 1);
      expect(await Promise.all(s.running)).toEqual(['ran 0', 'ran 1', 'ran 2']);
      for (const f of s.queued) expect(typeof (await f)).toBe('number');
      for (const path of s.markers) expect(existsSync(path)).toBe(true);
      expectNoWorkers(s);
    },
  ],
  [
    'wait and cancel: waiting tasks are cancelled, running ones finish, it resolves when they are done and workers exited',
    { wait: true, cancelFutures: true },
    async (s, shutdown) => {
      const done = observe(s, shutdown());
      for (const f of s.queued) expect(await rejection(f)).toBeInstanceOf(CancelledError);
      expect(s.events).not.toContain('shutdown resolved');
      s.open();
      await within(done, 10_000, 'shutdown');
      expect(s.events.indexOf('shutdown resolved')).toBe(s.events.length - 1);
      expect(await Promise.all(s.running)).toEqual(['ran 0', 'ran 1', 'ran 2']);
      for (const f of s.queued) expect(f.cancelled()).toBe(true);
      for (const path of s.markers) expect(existsSync(path)).toBe(false);
      expectNoWorkers(s);
    },
  ],
  [
    'no wait and no cancel: waiting tasks are cancelled, it resolves at once, and the running ones still finish',
    { wait: false, cancelFutures: false },
    async (s, shutdown) => {
      // The gate stays closed until shutdown has resolved: it must not wait for the running tasks.
      await within(observe(s, shutdown()), 5_000, 'shutdown without waiting');
      expect(s.events).toEqual(['shutdown resolved']);
      for (const f of s.running) expect(f.done()).toBe(false);
      for (const f of s.queued) expect(await rejection(f)).toBeInstanceOf(CancelledError);
      s.open();
      expect(await Promise.all(s.running)).toEqual(['ran 0', 'ran 1', 'ran 2']);
      for (const path of s.markers) expect(existsSync(path)).toBe(false);
    },
  ],
  [
    'no wait and cancel: waiting and running tasks are cancelled, running workers are killed, it resolves when they are gone',
    { wait: false, cancelFutures: true },
    async (s, shutdown) => {
      const exits = record(s.pool, 'workerExit');
      // The gate never opens: the running tasks only end by being killed.
      await within(observe(s, shutdown()), 5_000, 'shutdown with cancelFutures');
      expectNoWorkers(s);
      for (const f of [...s.running, ...s.queued]) {
        expect(await rejection(f)).toBeInstanceOf(CancelledError);
        expect(f.cancelled()).toBe(true);
      }
      const killed = exits.filter((e) => s.running.some((f) => f.pid === e.pid));
      for (const exit of killed) expect(exit.reason).toBe('killed');
      for (const path of s.markers) expect(existsSync(path)).toBe(false);
    },
  ],
];

describe('shutdown() called explicitly', () => {
  for (const [title, row, check] of rows) {
    test(`shutdown({ wait: ${row.wait}, cancelFutures: ${row.cancelFutures} }) — ${title}`, async () => {
      const s = await scenario();
      await check(s, () => s.pool.shutdown(row));
    });
  }
});

describe('shutdown by Symbol.asyncDispose with the constructor defaults', () => {
  for (const [title, row, check] of rows) {
    test(`asyncDispose with shutdownWait ${row.wait} and shutdownCancelFutures ${row.cancelFutures} — ${title}`, async () => {
      const s = await scenario({
        shutdownWait: row.wait,
        shutdownCancelFutures: row.cancelFutures,
      });
      await check(s, () => s.pool[Symbol.asyncDispose]());
    });
  }

  test('shutdown() without arguments uses shutdownWait and shutdownCancelFutures from the constructor', async () => {
    const s = await scenario({ shutdownWait: false, shutdownCancelFutures: true });
    await within(s.pool.shutdown(), 5_000, 'shutdown with constructor defaults');
    expectNoWorkers(s);
    for (const f of s.running) expect(f.cancelled()).toBe(true);
  });

  test('`await using` shuts the pool down at the end of the block, waiting for its tasks', async () => {
    const { pool: created, pids } = makePool({ maxWorkers: 1 });
    let future: Future<unknown>;
    {
      await using pool = created;
      future = pool.submit(tasks.sleep, [100, 'slept']);
      await started(future);
    }
    // The block is left only after disposal has resolved: the task ran to the end and the worker exited.
    expect(future.done()).toBe(true);
    expect(await future).toBe('slept');
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });
});

describe('shutdown edge cases', () => {
  test('submit after shutdown began throws PoolClosedError', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const closing = pool.shutdown();
    expect(() => pool.submit(tasks.add, [1, 2])).toThrow(PoolClosedError);
    await closing;
    expect(() => pool.submit(tasks.add, [1, 2])).toThrow(PoolClosedError);
  });

  test('calling shutdown twice in a row is safe', async () => {
    const { pool, pids } = makePool({ maxWorkers: 2 });
    await pool.ready();
    await pool.shutdown();
    await pool.shutdown();
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });

  test('concurrent shutdown calls both resolve when the first call has finished its work', async () => {
    const { pool, pids } = makePool({ maxWorkers: 2 });
    const g = gate();
    const running = pool.submit(tasks.block, [g.path, 'done']);
    const busy = await started(running);
    const order: string[] = [];
    // The handshake: the first call retires the idle worker; by its exit both calls have acted.
    const idleGone = nextEvent(pool, 'workerExit', (e) => e.pid !== busy);
    const first = pool.shutdown({ wait: true }).then(() => order.push('first'));
    const second = pool
      .shutdown({ wait: false, cancelFutures: true })
      .then(() => order.push('second'));
    expect(await within(idleGone, 10_000, 'the idle worker to retire')).toMatchObject({
      reason: 'shutdown',
    });
    // The second call does not override the first: the running task is not killed.
    const early = running.done()
      ? `it settled early with ${String(await running.exception())}`
      : '';
    expect(running.done(), early).toBe(false);
    g.open();
    await within(Promise.all([first, second]), 10_000, 'both shutdown calls');
    expect(await running).toBe('done');
    expect(order).toHaveLength(2);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });

  test('shutdown of a pool that never got a task resolves with every worker gone', async () => {
    const { pool, pids } = makePool({ maxWorkers: 2 });
    await within(pool.shutdown(), 10_000, 'shutdown of an idle pool');
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });

  test('a graceful shutdown retires every worker with reason shutdown and exit code 0', async () => {
    const { pool, pids } = makePool({ maxWorkers: 2 });
    await pool.ready();
    const exits = record(pool, 'workerExit');
    await pool.submit(tasks.add, [1, 1]);
    await pool.shutdown();
    expect(exits).toHaveLength(2);
    for (const exit of exits) {
      expect(pids.has(exit.pid)).toBe(true);
      expect(exit).toMatchObject({ reason: 'shutdown', exitCode: 0, signal: null });
    }
    expect(pool.getStatistics()).toMatchObject({
      workerProcessesStillAlive: 0,
      workerProcessesIdle: 0,
    });
  });

  test('a graceful shutdown while a task runs starts no new worker', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    await pool.ready();
    const starts = record(pool, 'workerStart');
    const door = gate();
    const running = pool.submit(tasks.block, [door.path, 'done']);
    await started(running);
    const closed = pool.shutdown();
    door.open();
    await closed;
    expect(await running).toBe('done');
    expect(starts).toEqual([]);
    expect(pool.getStatistics()).toMatchObject({ workerProcessesCreated: 2 });
  });

  test('shutdown without waiting and with cancelFutures kills idle workers, and resolves once they are gone', async () => {
    const { pool, pids } = makePool({ maxWorkers: 2 });
    await pool.ready();
    const exits = record(pool, 'workerExit');
    await pool.submit(tasks.add, [1, 1]);
    await pool.shutdown({ wait: false, cancelFutures: true });
    expect(exits).toHaveLength(2);
    for (const exit of exits) expect(exit).toMatchObject({ reason: 'shutdown', signal: 'SIGKILL' });
    expect(pids.size).toBe(2);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });

  test('shutdown without waiting and with cancelFutures still retires idle workers gracefully when a finalizer must run', async () => {
    const dir = tempDir();
    const { pool, pids } = makePool({
      maxWorkers: 2,
      finalizer: tasks.mark,
      finalargs: [join(dir, 'fin'), 'bye'],
    });
    await pool.ready();
    const exits = record(pool, 'workerExit');
    await pool.submit(tasks.add, [1, 1]);
    await pool.shutdown({ wait: false, cancelFutures: true });
    expect(exits).toHaveLength(2);
    for (const exit of exits) {
      expect(exit).toMatchObject({ reason: 'shutdown', exitCode: 0, signal: null });
    }
    expect(existsSync(join(dir, 'fin'))).toBe(true);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });
});
