/**
 * Tracing through node:diagnostics_channel (docs/observability.md "Tracing"): every
 * task gives exactly one start, end, asyncStart and asyncEnd, in that order,
 * with `error` before asyncEnd when it fails, on every path; and the worker
 * channels mirror the workerStart and workerExit events.
 */
import diagnostics from 'node:diagnostics_channel';
import { afterEach, describe, expect, test } from 'vitest';
import {
  CancelledError,
  ProcessError,
  TimeoutError,
  type Future,
  type TaskTraceContext,
} from '../dist/index.js';
import * as tasks from './fixtures/core/tasks.mjs';
import {
  gate,
  killChild,
  makePool,
  nextEvent,
  record,
  rejection,
  started,
  waitFor,
} from './helpers/index.js';

type Phase = 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error';
const PHASES: Phase[] = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'];

const channel = diagnostics.tracingChannel<unknown, TaskTraceContext>('deadpool:task');
/** Every event seen, in order: the phase, and the pid the context held at that moment. */
const seen = new Map<TaskTraceContext, { phase: Phase; pid: number | undefined }[]>();
let lastStarted: TaskTraceContext | undefined;

const handlers = Object.fromEntries(
  PHASES.map((phase) => [
    phase,
    (context: TaskTraceContext) => {
      if (phase === 'start') lastStarted = context;
      const events = seen.get(context) ?? [];
      events.push({ phase, pid: context.pid });
      seen.set(context, events);
    },
  ]),
) as Record<Phase, (context: TaskTraceContext) => void>;

function subscribe(): void {
  channel.subscribe(handlers);
}

afterEach(() => {
  channel.unsubscribe(handlers);
  seen.clear();
  lastStarted = undefined;
});

/** Submit and return the future with the context its `start` event carried. */
function traced<T>(submit: () => Future<T>): { future: Future<T>; context: TaskTraceContext } {
  lastStarted = undefined;
  const future = submit();
  expect(lastStarted, 'a start event during submit').toBeDefined();
  return { future, context: lastStarted! };
}

function phases(context: TaskTraceContext): Phase[] {
  return (seen.get(context) ?? []).map((e) => e.phase);
}

const RAN = ['start', 'end', 'asyncStart', 'asyncEnd'];
const RAN_FAILED = ['start', 'end', 'asyncStart', 'error', 'asyncEnd'];
const NEVER_RAN = ['start', 'end', 'error', 'asyncStart', 'asyncEnd'];

describe('the deadpool:task tracing channel', () => {
  test('a task that succeeds: start, end, asyncStart with its pid, asyncEnd with its result', async () => {
    subscribe();
    const { pool } = makePool({ maxWorkers: 1 });
    const { future, context } = traced(() =>
      pool.submit(tasks.add, [2, 3], { name: 'add', priority: 4 }),
    );
    expect(phases(context)).toEqual(['start', 'end']);
    expect(await future).toBe(5);
    // asyncEnd came before the await resumed.
    expect(phases(context)).toEqual(RAN);
    expect(context).toMatchObject({ name: 'add', priority: 4, pid: future.pid, result: 5, pool });
    expect(typeof context.id).toBe('number');
    expect('error' in context).toBe(false);
    const events = seen.get(context)!;
    expect(events.map((e) => e.pid)).toEqual([undefined, undefined, future.pid, future.pid]);
  });

  test('a task that throws: error then asyncEnd, both carrying the error', async () => {
    subscribe();
    const { pool } = makePool({ maxWorkers: 1 });
    const { future, context } = traced(() => pool.submit(tasks.fail, ['boom']));
    const error = await rejection(future);
    expect(phases(context)).toEqual(RAN_FAILED);
    expect(context.error).toBe(error);
    expect(context.pid).toBe(future.pid);
    expect(context.name).toBeUndefined();
  });

  test('a task that times out: error is the TimeoutError, pid is the killed worker', async () => {
    subscribe();
    const { pool } = makePool({ maxWorkers: 1 });
    const { future, context } = traced(() => pool.submit(tasks.forever, [], { timeout: 200 }));
    const pid = await started(future);
    const error = await rejection(future);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(phases(context)).toEqual(RAN_FAILED);
    expect(context).toMatchObject({ pid, error });
  });

  test('a task cancelled before it started: error, then asyncStart with no pid, then asyncEnd', async () => {
    subscribe();
    const { pool } = makePool({ maxWorkers: 1 });
    const g = gate();
    const { future: blocker, context: first } = traced(() => pool.submit(tasks.block, [g.path]));
    await started(blocker);
    const { future, context } = traced(() => pool.submit(tasks.add, [1, 1]));
    expect(future.cancel()).toBe(true);
    expect(phases(context)).toEqual(NEVER_RAN);
    expect(context.pid).toBeUndefined();
    expect(context.error).toBeInstanceOf(CancelledError);
    // An already-aborted signal: cancelled inside submit, still after start and end.
    const { context: aborted } = traced(() =>
      pool.submit(tasks.add, [1, 1], { signal: AbortSignal.abort() }),
    );
    expect(phases(aborted)).toEqual(NEVER_RAN);
    g.open();
    await blocker;
    expect(phases(first)).toEqual(RAN);
  });

  test('a task whose worker is killed from outside: error is the ProcessError, with the pid', async () => {
    subscribe();
    const { pool } = makePool({ maxWorkers: 1 });
    const { future, context } = traced(() => pool.submit(tasks.forever, [], { name: 'victim' }));
    const pid = await started(future);
    expect(phases(context)).toEqual(['start', 'end', 'asyncStart']);
    expect(killChild(pid)).toBe(true);
    const error = await rejection(future);
    expect(error).toBeInstanceOf(ProcessError);
    expect(phases(context)).toEqual(RAN_FAILED);
    expect(context).toMatchObject({ pid, error, name: 'victim' });
  });

  test('cancelAndKill of a running task: error is the CancelledError, after asyncStart', async () => {
    subscribe();
    const { pool } = makePool({ maxWorkers: 1 });
    const { future, context } = traced(() => pool.submit(tasks.forever, []));
    await started(future);
    future.cancelAndKill();
    expect(phases(context)).toEqual(RAN_FAILED);
    expect(context.error).toBeInstanceOf(CancelledError);
  });

  test('200 mixed tasks on 2 workers each give exactly one full sequence, in order', async () => {
    subscribe();
    const { pool } = makePool({ maxWorkers: 2 });
    const all = Array.from({ length: 200 }, (_, i) =>
      traced(() =>
        i % 3 === 0 ? pool.submit(tasks.fail, [`no ${i}`]) : pool.submit(tasks.add, [i, 1]),
      ),
    );
    for (const { future } of all.filter((_, i) => i % 10 === 9)) future.cancel();
    await Promise.allSettled(all.map(({ future }) => future));
    let cancelled = 0;
    for (const { future, context } of all) {
      if (future.cancelled()) {
        cancelled++;
        expect(phases(context)).toEqual(NEVER_RAN);
      } else if ((await future.exception()) === undefined) expect(phases(context)).toEqual(RAN);
      else expect(phases(context)).toEqual(RAN_FAILED);
      expect(context.pid).toBe(future.pid);
    }
    expect(cancelled).toBeGreaterThan(0);
    expect(seen.size).toBe(200);
  });

  test('map batches are traced too, one context per message with its item count', async () => {
    subscribe();
    const { pool } = makePool({ maxWorkers: 1 });
    const out: number[] = [];
    for await (const n of pool.map(tasks.square, [1, 2, 3])) out.push(n);
    expect(out).toEqual([1, 4, 9]);
    const contexts = [...seen.keys()].filter((c) => c.pool === pool);
    expect(contexts.length).toBeGreaterThan(0);
    for (const context of contexts) {
      expect(phases(context)).toEqual(RAN);
      expect(context.items).toBeGreaterThanOrEqual(1);
    }
    expect(contexts.reduce((n, c) => n + c.items!, 0)).toBe(3);
  });

  test('a task submitted while nobody listened is not traced, even if it settles later', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const g = gate();
    const future = pool.submit(tasks.block, [g.path, 'v']);
    await started(future);
    subscribe();
    g.open();
    expect(await future).toBe('v');
    expect(seen.size).toBe(0);
  });
});

describe('the worker channels', () => {
  test('deadpool:worker:start and deadpool:worker:exit carry the events and the pool', async () => {
    const starts: unknown[] = [];
    const exits: unknown[] = [];
    const onStart = (message: unknown): void => void starts.push(message);
    const onExit = (message: unknown): void => void exits.push(message);
    diagnostics.subscribe('deadpool:worker:start', onStart);
    diagnostics.subscribe('deadpool:worker:exit', onExit);
    try {
      const { pool, pids } = makePool({ maxWorkers: 2 });
      const events = record(pool, 'workerExit');
      await pool.ready();
      const victim = [...pids][0]!;
      const exit = nextEvent(pool, 'workerExit', (e) => e.pid === victim);
      expect(killChild(victim)).toBe(true);
      await exit;
      await waitFor(() => pids.size === 3, { what: 'a replacement worker' });
      await pool.shutdown();
      const mine = (list: unknown[]): Record<string, unknown>[] =>
        (list as Record<string, unknown>[]).filter((m) => m.pool === pool);
      expect(mine(starts).map((m) => m.pid)).toEqual([...pids]);
      expect(mine(exits)).toEqual(events.map((e) => ({ ...e, pool })));
      expect(mine(exits)[0]).toMatchObject({ pid: victim, reason: 'crashed', signal: 'SIGKILL' });
    } finally {
      diagnostics.unsubscribe('deadpool:worker:start', onStart);
      diagnostics.unsubscribe('deadpool:worker:exit', onExit);
    }
  });
});
