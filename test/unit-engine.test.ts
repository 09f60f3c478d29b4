/**
 * The engine against fake worker processes (no pid, so nothing is ever
 * signalled): orders of messages that real workers produce only under
 * rare timings, replayed exactly.
 */
import { expect, test, vi, type MockInstance } from 'vitest';
import { loadPQueue } from '../src/parent/backlog.js';
import { Containment } from '../src/parent/containment/containment.js';
import { normalizeSubmitOptions } from '../src/parent/submit-options.js';
import { CancelledError, ProcessError, TimeoutError } from '../src/shared/errors.js';
import type { WorkerMessage } from '../src/shared/protocol.js';
import { FakeChild, fakeEngine, type EngineChild } from './helpers/fake-child.js';
import { rejection, turn, waitFor, within } from './helpers/index.js';

const SPEC = { kind: 'source', source: 'x => x' } as const;

// p-queue loads when a task first waits (backlog.ts), in a few ms that
// would count as the running task's time: whether a task is queued inside
// a busy worker depends on that time, and these replays fix the order.
loadPQueue();

/**
 * Every pool's containment says a worker is being moved into its cgroups
 * until `done()`: making cgroups meanwhile would wait for that move.
 */
function holdMoves(): {
  done: () => void;
  restore: () => void;
  whenNoMove: MockInstance<Containment['whenNoMove']>;
} {
  let done = (): void => {};
  const moved = new Promise<void>((resolve) => (done = resolve));
  const moving = vi.spyOn(Containment.prototype, 'moving', 'get').mockReturnValue(true);
  const whenNoMove = vi.spyOn(Containment.prototype, 'whenNoMove').mockReturnValue(moved);
  return {
    whenNoMove,
    done: () => {
      moving.mockReturnValue(false);
      done();
    },
    restore: () => {
      moving.mockRestore();
      whenNoMove.mockRestore();
    },
  };
}

test('closing: a worker freed after the last job settled (its head handed back unstarted) retires, and the close completes', async () => {
  const { engine, settings, children } = fakeEngine({
    maxWorkers: 1,
    containment: 'process-group',
  });
  await engine.ready();
  const child = children[0]!;
  const ok = (id: number, extra: object = {}): void =>
    child.reply({ t: 'ok', id, value: id, ms: 0.01, cpu: 0, ...extra });
  const options = normalizeSubmitOptions(undefined, settings);
  // A short task first, so that the pool queues tasks inside the busy worker.
  const warm = engine.submit(SPEC, [0], options);
  await turn();
  ok(child.runs()[0]!);
  await warm;
  // `a` runs; `b` waits inside the worker behind it.
  const a = engine.submit(SPEC, [1], options);
  const b = engine.submit(SPEC, [2], options);
  await turn();
  const [, aId, bId] = child.runs();
  expect(bId).toBeDefined();
  // `b` is cancelled while it waits there: it settles, and the worker is asked to drop it.
  expect(b.cancel()).toBe(true);
  expect(child.sent.at(-1)).toEqual({ t: 'drop', ids: [bId] });
  // `a`'s result names no next task: `b` reached the worker after it ended,
  // so `b` is the head, to start on arrival. Then the pool closes: no job is
  // left, the worker is busy with `b` as far as the pool knows.
  ok(aId!);
  expect(await a).toBe(aId);
  let closed = false;
  const closing = engine.close(true, false).then(() => (closed = true));
  await turn();
  expect(closed).toBe(false);
  // The worker hands `b` back unstarted: it is idle now, and must retire.
  child.reply({ t: 'dropped', ids: [bId!] });
  await within(closing, 5_000, 'the close after the worker went idle');
  expect(child.sent.some((m) => m.t === 'finalize')).toBe(true);
});

test('a worker lost while another is being moved into its cgroups is replaced once that move is done', async () => {
  const { engine, settings, children } = fakeEngine({
    maxWorkers: 2,
    minWorkers: 2,
    containment: 'process-group',
  });
  await engine.ready();
  expect(children).toHaveLength(2);
  // A move in flight that waits on the kernel (an RCU grace period): making
  // the replacement's cgroups now would wait for it on the event loop.
  let done = (): void => {};
  const moved = new Promise<void>((resolve) => (done = resolve));
  const moving = vi.spyOn(settings.containment, 'moving', 'get').mockReturnValue(true);
  const whenNoMove = vi.spyOn(settings.containment, 'whenNoMove').mockReturnValue(moved);
  try {
    children[0]!.die(null, 'SIGKILL');
    await turn();
    expect(children).toHaveLength(2);
    expect(whenNoMove).toHaveBeenCalledTimes(1);
    // Demand meanwhile (a submit) plans no second start.
    const task = engine.submit(SPEC, [1], normalizeSubmitOptions(undefined, settings));
    await turn();
    expect(whenNoMove).toHaveBeenCalledTimes(1);
    moving.mockReturnValue(false);
    done();
    await turn();
    expect(children).toHaveLength(3);
    await within(engine.ready(), 5_000, 'the replacement ready');
    const ran = children.find((child) => child.runs().length > 0)!;
    ran.reply({ t: 'ok', id: ran.runs()[0]!, value: 1, ms: 0.01, cpu: 0 });
    expect(await task).toBe(1);
  } finally {
    moving.mockRestore();
    whenNoMove.mockRestore();
  }
});

test("a pool constructed while a worker (any pool's) is being moved into its cgroups forks its workers once that move is done", async () => {
  // Making their cgroups meanwhile would wait for that move on the event loop.
  const moves = holdMoves();
  try {
    const { engine, settings, children } = fakeEngine({
      maxWorkers: 2,
      containment: 'process-group',
    });
    await turn();
    expect(children).toHaveLength(0);
    // (The spy sees every pool's containment: the earlier tests' engines may still be closing.)
    expect(moves.whenNoMove.mock.contexts.filter((c) => c === settings.containment)).toHaveLength(
      1,
    );
    moves.done();
    await turn();
    expect(children).toHaveLength(2);
    await within(engine.ready(), 5_000, 'both workers ready');
  } finally {
    moves.restore();
  }
});

/**
 * A pool of one fake worker running `a` (submitted with `aOptions`) with
 * three tasks queued inside it behind `a`, as a warmed-up pool queues short
 * tasks; `ok` plays the worker's result of a task.
 */
async function killedWithQueue(aOptions: Record<string, unknown> = {}) {
  const { engine, settings, children } = fakeEngine({
    maxWorkers: 1,
    containment: 'process-group',
  });
  await engine.ready();
  const child = children[0]!;
  const result = (from: EngineChild, id: number, extra: Partial<WorkerMessage> = {}): void =>
    from.reply({ t: 'ok', id, value: id, ms: 0.01, cpu: 0, ...extra } as WorkerMessage);
  const options = normalizeSubmitOptions(undefined, settings);
  // A short task first, so that the pool queues tasks inside the busy worker.
  const warm = engine.submit(SPEC, [0], options);
  await turn();
  result(child, child.runs()[0]!);
  await warm;
  const a = engine.submit(SPEC, [1], normalizeSubmitOptions(aOptions, settings));
  const queued = [2, 3, 4].map((n) => engine.submit(SPEC, [n], options));
  await turn();
  const [, aId, ...queuedIds] = child.runs();
  expect(queuedIds).toHaveLength(3);
  return { engine, children, child, result, a, aId: aId!, queued, queuedIds: queuedIds };
}

test('a task that had started in a worker the pool killed (a result read after the kill names it next) fails and never runs again; the others go back, never failed', async () => {
  const { engine, children, child, result, a, aId, queued, queuedIds } = await killedWithQueue();
  const [bId, cId, dId] = queuedIds as [number, number, number];
  const [b, c, d] = queued as [(typeof queued)[0], (typeof queued)[0], (typeof queued)[0]];
  expect(a.cancelAndKill()).toBe(true);
  expect(await rejection(a)).toBeInstanceOf(CancelledError);
  // The worker had finished `a` and started `b`: that result, written before
  // the kill, is read only after it; then the exit.
  result(child, aId, { next: bId });
  expect(engine.snapshot().tasksLaunched).toBe(3);
  child.die(null, 'SIGKILL');
  const error = await rejection(b);
  expect(error).toBeInstanceOf(ProcessError);
  expect((error as ProcessError).message).toBe(
    `task ${bId} had started on worker -1 when the pool killed the worker and its process tree ` +
      `because of task ${aId}; it may have run in part, so it is not run again`,
  );
  // `c` and `d` never started: they run on the replacement, in their order, and `b` does not.
  const fresh = await waitFor(() => (children[1]?.runs().length === 2 ? children[1] : undefined), {
    what: 'the replacement to get the tasks that never started',
  });
  expect(fresh.runs()).toEqual([cId, dId]);
  result(fresh, cId, { next: dId });
  result(fresh, dId);
  expect(await Promise.all([c, d])).toEqual([cId, dId]);
  expect(engine.snapshot()).toMatchObject({ tasksFailed: 1, tasksCancelled: 1, tasksCompleted: 3 });
});

test("a worker killed at a task's timeout: a start it reported before the kill fails that task, whose own result, read after it, is kept", async () => {
  const { children, child, result, a, aId, queued, queuedIds } = await killedWithQueue({
    timeout: 50,
  });
  const [bId, cId, dId] = queuedIds as [number, number, number];
  const [b, c, d] = queued as [(typeof queued)[0], (typeof queued)[0], (typeof queued)[0]];
  expect(await rejection(a)).toBeInstanceOf(TimeoutError);
  // `a` ended with nothing inside the worker yet; `b` arrived, started (its
  // 'started' went out first), ended and named `c`, which started: all read
  // after the kill.
  result(child, aId);
  child.reply({ t: 'started', id: bId });
  result(child, bId, { next: cId });
  child.die(null, 'SIGKILL');
  expect(await within(b, 5_000, 'b settled by its own result')).toBe(bId);
  const error = await rejection(c);
  expect(error).toBeInstanceOf(ProcessError);
  expect((error as ProcessError).message).toContain(`because of task ${aId};`);
  const fresh = await waitFor(() => (children[1]?.runs().length === 1 ? children[1] : undefined), {
    what: 'the replacement to get the task that never started',
  });
  expect(fresh.runs()).toEqual([dId]);
  result(fresh, dId);
  expect(await d).toBe(dId);
});

test('shutdown with cancelFutures cancels the tasks still inside a worker the pool killed, before its exit', async () => {
  const { engine, children, child, a, queued } = await killedWithQueue();
  expect(a.cancelAndKill()).toBe(true);
  const closed = engine.close(true, true);
  for (const f of queued) {
    expect(await within(rejection(f), 5_000, 'the cancel')).toBeInstanceOf(CancelledError);
  }
  child.die(null, 'SIGKILL');
  await within(closed, 5_000, 'the close after the killed worker exited');
  expect(children.slice(1).every((other) => other.runs().length === 0)).toBe(true);
});

test('a pool closed (waiting for its tasks) while its first workers wait for a cgroup move still starts one for the task that waits, and the close completes', async () => {
  const moves = holdMoves();
  try {
    const { engine, settings, children } = fakeEngine({
      maxWorkers: 2,
      containment: 'process-group',
    });
    const task = engine.submit(SPEC, [1], normalizeSubmitOptions(undefined, settings));
    let closed = false;
    const closing = engine.close(true, false).then(() => (closed = true));
    await turn();
    expect(children).toHaveLength(0);
    moves.done();
    await turn();
    // One worker, for the one task still waiting: a closing pool keeps no more.
    expect(children).toHaveLength(1);
    const child = children[0]!;
    await waitFor(() => child.runs().length > 0, { what: 'the task handed to the worker' });
    child.reply({ t: 'ok', id: child.runs()[0]!, value: 1, ms: 0.01, cpu: 0 });
    expect(await task).toBe(1);
    await within(closing, 5_000, 'the close');
    expect(closed).toBe(true);
  } finally {
    moves.restore();
  }
});

test('shutdown with cancelFutures cancels the tasks still waiting inside a worker that is retiring (past maxWorkerMemoryBytes)', async () => {
  const { engine, settings, children } = fakeEngine({
    maxWorkers: 1,
    maxWorkerMemoryBytes: 1_000_000,
    containment: 'process-group',
  });
  await engine.ready();
  const child = children[0]!;
  // A real worker answers the `drop` before it runs its finalizer and exits.
  child.send = (message) => FakeChild.prototype.send.call(child, message);
  const options = normalizeSubmitOptions(undefined, settings);
  // A short task first, so that the pool queues tasks inside the busy worker.
  const warm = engine.submit(SPEC, [0], options);
  await turn();
  child.reply({ t: 'ok', id: child.runs()[0]!, value: 0, ms: 0.01, cpu: 0 });
  await warm;
  const a = engine.submit(SPEC, [1], options);
  const b = engine.submit(SPEC, [2], options);
  await turn();
  const [, aId, bId] = child.runs();
  expect(bId).toBeDefined();
  // `a` ends past the memory bound: the worker holds `b` (starts nothing
  // more), is asked for it back, and retires.
  child.reply({ t: 'ok', id: aId!, value: 1, ms: 0.01, cpu: 0, rss: 2_000_000, held: true });
  expect(await a).toBe(1);
  expect(child.sent.at(-2)).toEqual({ t: 'drop', ids: [bId] });
  const closing = engine.close(true, true);
  await turn();
  expect(b.done()).toBe(true);
  await expect(b).rejects.toThrow(/cancelled by shutdown/);
  // The worker hands `b` back, and exits: `b` must not run anywhere.
  child.reply({ t: 'dropped', ids: [bId!] });
  child.die(0, null);
  await within(closing, 5_000, 'the close');
  expect(children).toHaveLength(1);
});

test('a worker marked to retire whose next task it hands back unstarted retires then, and recycle() resolves', async () => {
  const { engine, settings, children } = fakeEngine({
    maxWorkers: 1,
    containment: 'process-group',
  });
  await engine.ready();
  const child = children[0]!;
  const ok = (from: EngineChild, id: number): void =>
    from.reply({ t: 'ok', id, value: id, ms: 0.01, cpu: 0 });
  const options = normalizeSubmitOptions(undefined, settings);
  // A short task first, so that the pool queues tasks inside the busy worker.
  const warm = engine.submit(SPEC, [0], options);
  await turn();
  ok(child, child.runs()[0]!);
  await warm;
  // `a` runs; `b` waits inside the worker behind it.
  const a = engine.submit(SPEC, [1], options);
  const b = engine.submit(SPEC, [2], options);
  await turn();
  const [, aId, bId] = child.runs() as [number, number, number];
  expect(bId).toBeDefined();
  // Recycling marks the busy worker to retire after its task and asks for `b` back.
  const recycled = engine.recycle();
  expect(child.sent.at(-1)).toEqual({ t: 'drop', ids: [bId] });
  // `a`'s result names no next (`b` arrived while it was being written):
  // `b` is the head, to start on arrival; then the worker hands it back unstarted.
  ok(child, aId);
  expect(await a).toBe(aId);
  child.reply({ t: 'dropped', ids: [bId] });
  await within(recycled, 5_000, 'the recycle');
  expect(child.sent.some((m) => m.t === 'finalize')).toBe(true);
  expect(child.runs()).toEqual([expect.any(Number), aId, bId]);
  // `b` runs on the fresh worker.
  const fresh = await waitFor(() => (children[1]?.runs().length === 1 ? children[1] : undefined), {
    what: 'the fresh worker to get the task handed back',
  });
  expect(fresh.runs()).toEqual([bId]);
  ok(fresh, bId);
  expect(await b).toBe(bId);
});
