/**
 * Sharing one pool (docs/dispatch.md "Sharing"): tenants take turns,
 * maxRunningPerTenant caps a tenant, affinity routes to a warm worker.
 */
import { describe, expect, test } from 'vitest';
import { Deadpool, type Future } from '../dist/index.js';
import * as tasks from './fixtures/core/tasks.mjs';
import { gate, makePool, started, turn, waitFor, within } from './helpers/index.js';

describe('tenant', () => {
  test('12 tasks of tenant A then 3 of B on one worker run A, B, A, B, A, B, then the rest of A', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const g = gate();
    const blocker = pool.submit(tasks.block, [g.path]);
    await started(blocker);
    const labels = [...Array.from({ length: 12 }, (_, i) => `A${i}`), 'B0', 'B1', 'B2'];
    const order: string[] = [];
    const futures = labels.map((label) => {
      const future = pool.submit(tasks.echo, [label], { tenant: label.slice(0, 1) });
      future.addDoneCallback(() => order.push(label));
      return future;
    });
    g.open();
    await Promise.all([blocker, ...futures]);
    expect(order).toEqual(['A0', 'B0', 'A1', 'B1', 'A2', 'B2', ...labels.slice(3, 12)]);
  });

  test('without tenant the same submissions run in submission order', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const g = gate();
    const blocker = pool.submit(tasks.block, [g.path]);
    await started(blocker);
    const labels = ['A0', 'A1', 'A2', 'B0', 'B1'];
    const order: string[] = [];
    const futures = labels.map((label) => {
      const future = pool.submit(tasks.echo, [label]);
      future.addDoneCallback(() => order.push(label));
      return future;
    });
    g.open();
    await Promise.all([blocker, ...futures]);
    expect(order).toEqual(labels);
  });

  test('tasks without a tenant take their turn as one tenant, and priority still comes first', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const g = gate();
    const blocker = pool.submit(tasks.block, [g.path]);
    await started(blocker);
    const order: string[] = [];
    const submit = (label: string, options: { tenant?: string; priority?: number }) => {
      const future = pool.submit(tasks.echo, [label], options);
      future.addDoneCallback(() => order.push(label));
      return future;
    };
    const futures = [
      submit('A0', { tenant: 'A' }),
      submit('A1', { tenant: 'A' }),
      submit('none0', {}),
      submit('none1', {}),
      submit('urgent', { tenant: 'A', priority: 0 }),
      submit('late', { tenant: 'B', priority: 1 }),
    ];
    g.open();
    await Promise.all([blocker, ...futures]);
    expect(order).toEqual(['A0', 'none0', 'A1', 'none1', 'urgent', 'late']);
  });
});

describe('tenant with pipelining', () => {
  test('in a warm pool, tasks queued inside the worker keep the round-robin order', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    for (let i = 0; i < 30; i++) await pool.submit(tasks.echo, [i]); // short tasks: pipelining on
    const g = gate();
    const blocker = pool.submit(tasks.block, [g.path]);
    // Submitted with it: nothing waits behind a task that turned out long (docs/dispatch.md).
    const labels = [...Array.from({ length: 6 }, (_, i) => `A${i}`), 'B0', 'B1'];
    const order: string[] = [];
    const futures = labels.map((label) => {
      const future = pool.submit(tasks.echo, [label], { tenant: label.slice(0, 1) });
      future.addDoneCallback(() => order.push(label));
      return future;
    });
    await started(blocker);
    await waitFor(() => pool.getStatistics().tasksWaitingInWorkers > 1, {
      what: 'tasks queued inside the busy worker',
    });
    g.open();
    await Promise.all([blocker, ...futures]);
    expect(pool.getStatistics().tasksPipelined).toBeGreaterThan(1);
    expect(order).toEqual(['A0', 'B0', 'A1', 'B1', 'A2', 'A3', 'A4', 'A5']);
  });
});

describe('maxRunningPerTenant', () => {
  test('a tenant at its cap waits while a worker is free, and another tenant runs past it', async () => {
    const { pool } = makePool({ maxWorkers: 2, maxRunningPerTenant: 1 });
    await pool.ready();
    const g = gate();
    const a1 = pool.submit(tasks.block, [g.path, 'a1'], { tenant: 'a' });
    await started(a1);
    const a2 = pool.submit(tasks.echo, ['a2'], { tenant: 'a' });
    const b1 = pool.submit(tasks.echo, ['b1'], { tenant: 'b' });
    expect(await within(b1, 10_000, 'b1 on the free worker')).toBe('b1');
    // b1 ran on the free worker and ended; a2 still waits for a1.
    await turn();
    expect(a2.running()).toBe(false);
    expect(a2.done()).toBe(false);
    expect(pool.getStatistics().backlogSize).toBe(1);
    g.open();
    expect(await a1).toBe('a1');
    expect(await a2).toBe('a2');
  });

  test('tasks without a tenant are not capped', async () => {
    const { pool } = makePool({ maxWorkers: 2, maxRunningPerTenant: 1 });
    const g = gate();
    const first = pool.submit(tasks.block, [g.path, 'first']);
    await started(first);
    const second = pool.submit(tasks.block, [g.path, 'second']);
    await within(started(second), 10_000, 'the second untenanted task to start');
    expect(pool.getStatistics().tasksRunning).toBe(2);
    g.open();
    expect(await Promise.all([first, second])).toEqual(['first', 'second']);
  });

  test.each([0, 1.5, -1])('maxRunningPerTenant %s is refused with a RangeError naming it', (n) => {
    expect(() => new Deadpool({ maxWorkers: 1, maxRunningPerTenant: n })).toThrow(
      /Expected `maxRunningPerTenant` to be an integer >= 1/,
    );
    expect(() => new Deadpool({ maxWorkers: 1, maxRunningPerTenant: n })).toThrow(RangeError);
  });

  test('a non-number maxRunningPerTenant is refused with a TypeError', () => {
    expect(
      () => new Deadpool({ maxWorkers: 1, maxRunningPerTenant: '2' as unknown as number }),
    ).toThrow(TypeError);
  });
});

describe('affinity', () => {
  test('a task goes to the free worker that last ran its affinity', async () => {
    const { pool } = makePool({ maxWorkers: 3 });
    await pool.ready();
    const x = await pool.submit(tasks.pid, [], { affinity: 'x' });
    const y = await pool.submit(tasks.pid, [], { affinity: 'y' });
    expect(y).not.toBe(x); // a worker holding no affinity, not x's
    for (let i = 0; i < 4; i++) {
      expect(await pool.submit(tasks.pid, [], { affinity: 'x' })).toBe(x);
      expect(await pool.submit(tasks.pid, [], { affinity: 'y' })).toBe(y);
    }
    // A task without affinity prefers the worker holding none, and leaves the others' alone.
    const plain = await pool.submit(tasks.pid, []);
    expect([x, y]).not.toContain(plain);
    const future = pool.submit(tasks.pid, [], { affinity: 'x' });
    expect(await future).toBe(x);
    expect(future.pid).toBe(x);
  });

  test('a task never waits for its worker: with it busy, another free worker takes it', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    await pool.ready();
    const g = gate();
    const warm = pool.submit(tasks.block, [g.path, 'warm'], { affinity: 'x' });
    const busy = await started(warm);
    const other = pool.submit(tasks.pid, [], { affinity: 'x' });
    const pid = await within(other, 10_000, 'the keyed task on the other worker');
    expect(pid).not.toBe(busy);
    expect(warm.done()).toBe(false);
    g.open();
    await warm;
  });
});

describe('affinity with pipelining', () => {
  test('a keyed task waits inside a busy worker only if that worker holds its key', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    await pool.ready();
    for (let i = 0; i < 30; i++) await pool.submit(tasks.echo, [i]); // short tasks: pipelining on
    const g = gate();
    const other = gate();
    // The other worker is busy first: the holder's start may come inside its submit.
    const plain = pool.submit(tasks.block, [other.path, 'plain']);
    const holder = pool.submit(tasks.block, [g.path, 'x'], { affinity: 'x' });
    // Submitted the moment the holder starts: its worker has the task module
    // then, and nothing waits behind a task that has run long (docs/dispatch.md).
    const keyed = new Promise<[Future<number>, Future<number>]>((resolve) =>
      holder.addPidCallback(() =>
        resolve([
          pool.submit(tasks.pid, [], { affinity: 'x' }),
          pool.submit(tasks.pid, [], { affinity: 'y' }),
        ]),
      ),
    );
    const [xPid] = await Promise.all([started(holder), started(plain)]);
    const [x, y] = await keyed;
    await turn();
    // No busy worker holds y: it waits in the backlog.
    expect(pool.getStatistics()).toMatchObject({ tasksWaitingInWorkers: 1, backlogSize: 2 });
    // The holder's worker ends first (no worker is idle meanwhile to take x
    // back), and starts x, which waited inside it.
    g.open();
    expect(await x).toBe(xPid);
    other.open();
    await Promise.all([holder, plain, y]);
  });
});

describe('sharing options', () => {
  test.each([
    ['tenant', 5],
    ['tenant', {}],
    ['affinity', 7],
    ['affinity', null],
  ])('a non-string %s (%s) is refused with a TypeError naming it', (key, value) => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.submit(tasks.echo, [1], { [key]: value })).toThrow(TypeError);
    expect(() => pool.submit(tasks.echo, [1], { [key]: value })).toThrow(
      new RegExp(`Expected \`${key}\` to be a string`),
    );
  });

  test('map takes tenant and affinity', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const results: number[] = [];
    for await (const n of pool.map(tasks.square, [1, 2, 3], { tenant: 't', affinity: 'k' })) {
      results.push(n);
    }
    expect(results).toEqual([1, 4, 9]);
  });

  test('tasksRunning counts the tasks running now', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    expect(pool.getStatistics().tasksRunning).toBe(0);
    const g = gate();
    const f = pool.submit(tasks.block, [g.path, 'done']);
    await started(f);
    expect(pool.getStatistics().tasksRunning).toBe(1);
    g.open();
    await f;
    expect(pool.getStatistics().tasksRunning).toBe(0);
  });
});
