/**
 * How failures arrive (docs/api.md "Errors"): task errors rebuilt unwrapped, serialization
 * failures, timeouts on a synchronous endless loop, and workers killed by a signal.
 */
import { describe, expect, test } from 'vitest';
import { DeadpoolError, ProcessError, SerializationError, TimeoutError } from '../dist/index.js';
import * as errs from './fixtures/core/errors.mjs';
import * as tasks from './fixtures/core/tasks.mjs';
import {
  gate,
  isAlive,
  killChild,
  makePool,
  nextEvent,
  rejection,
  started,
  waitFor,
} from './helpers/index.js';

describe('errors thrown by the task', () => {
  test('a thrown TypeError arrives as a TypeError with its message', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const error = await rejection(pool.submit(errs.throwTypeError));
    expect(error).toBeInstanceOf(TypeError);
    expect(error).not.toBeInstanceOf(DeadpoolError);
    expect((error as Error).name).toBe('TypeError');
    expect((error as Error).message).toBe('bad type in worker');
  });

  test('a thrown RangeError keeps its class', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(await rejection(pool.submit(errs.throwRangeError))).toBeInstanceOf(RangeError);
  });

  test('an async rejection arrives like a throw', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const error = await rejection(pool.submit(errs.rejectAsync));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('rejected later');
  });

  test('a custom error keeps its name, message, code, own properties and cause chain', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const error = (await rejection(pool.submit(errs.throwCustom))) as Error & {
      code: string;
      field: string;
      details: unknown;
    };
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ValidationError');
    expect(error.message).toBe('invalid email');
    expect(error.code).toBe('E_VALIDATION');
    expect(error.field).toBe('email');
    expect(error.details).toEqual({ min: 3, tags: ['a', 'b'] });
    const middle = error.cause as Error;
    expect(middle).toBeInstanceOf(Error);
    expect(middle.message).toBe('middle cause');
    const root = middle.cause as Error;
    expect(root).toBeInstanceOf(RangeError);
    expect(root.message).toBe('root cause');
  });

  test('an AggregateError keeps its errors', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const error = (await rejection(pool.submit(errs.throwAggregate))) as AggregateError;
    expect(error).toBeInstanceOf(AggregateError);
    expect(error.message).toBe('several things failed');
    expect(error.errors).toHaveLength(2);
    expect(error.errors[0]).toBeInstanceOf(Error);
    expect((error.errors[0] as Error).message).toBe('first');
    expect(error.errors[1]).toBeInstanceOf(TypeError);
    expect((error.errors[1] as Error).message).toBe('second');
  });

  test("the error's stack is the worker's stack", async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const error = (await rejection(pool.submit(errs.throwWithStack))) as Error;
    expect(error.stack).toContain('deepInsideTheWorker');
    expect(error.stack).toContain('errors.mjs');
  });

  test.each([
    ['a string', 'just a string'],
    ['a number', 42],
    ['a plain object', { reason: 'plain', n: 1 }],
    ['an array', [1, 'two']],
  ])('a thrown non-Error value (%s) is delivered as it was thrown', async (_kind, value) => {
    const { pool } = makePool({ maxWorkers: 1 });
    const thrown = await rejection(pool.submit(errs.throwValue, [value]));
    expect(thrown).toEqual(value);
    expect(thrown instanceof Error).toBe(false);
  });

  test('a thrown null is delivered as null', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(await rejection(pool.submit(errs.throwNull))).toBeNull();
  });

  test('a thrown undefined is delivered as undefined', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const future = pool.submit(errs.throwUndefined);
    expect(await rejection(future)).toBeUndefined();
    expect(future.done()).toBe(true);
  });

  test('a task that returns an Error resolves with it', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const value = await pool.submit(tasks.returnError);
    expect(value).toBeInstanceOf(Error);
    expect(value.message).toBe('returned, not thrown');
  });

  test('a task error does not cost the worker its life', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const first = await pool.submit(tasks.pid);
    await rejection(pool.submit(tasks.fail, ['x']));
    expect(await pool.submit(tasks.pid)).toBe(first);
  });
});

describe('serialization', () => {
  test('a function among the arguments rejects with SerializationError and harms no worker', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const pid = await pool.submit(tasks.pid);
    const error = await rejection(pool.submit(tasks.echo, [{ fn: () => 1 }]));
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as SerializationError).code).toBe('ERR_DEADPOOL_SERIALIZATION');
    expect(await pool.submit(tasks.pid)).toBe(pid);
    expect(pool.getStatistics().workerProcessesCreated).toBe(1);
  });

  test('a result that is a function rejects with SerializationError', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(await rejection(pool.submit(tasks.returnFunction))).toBeInstanceOf(SerializationError);
    expect(await pool.submit(tasks.add, [1, 2])).toBe(3);
  });

  test('a result that is a symbol rejects with SerializationError', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(await rejection(pool.submit(tasks.returnSymbol))).toBeInstanceOf(SerializationError);
    expect(await pool.submit(tasks.add, [1, 2])).toBe(3);
  });

  test('an error with an unserializable property still arrives as an error', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const error = (await rejection(pool.submit(errs.throwUnserializable))) as Error & {
      code?: string;
    };
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toContain('has a function property');
    expect(error.code).toBe('E_HAS_FN');
    expect(await pool.submit(tasks.add, [1, 2])).toBe(3);
  });
});

describe('timeouts', () => {
  test('a synchronous endless loop is killed at its timeout with a TimeoutError, and the worker is replaced', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    await pool.ready();
    const future = pool.submit(tasks.forever, [], { timeout: 300, name: 'spin' });
    const pid = await started(future);
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === pid);
    const t0 = Date.now();
    const error = await rejection(future);
    const elapsed = Date.now() - t0;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe('ERR_DEADPOOL_TIMEOUT');
    expect((error as Error).message).toContain('timed out');
    // The task's name is shown in errors.
    expect((error as Error).message).toContain('spin');
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(5_000);
    expect(await exit).toMatchObject({ pid, reason: 'timeout', signal: 'SIGKILL' });
    await waitFor(() => !isAlive(pid), { timeoutMs: 2_000, what: `worker ${pid} to be gone` });
    const next = await pool.submit(tasks.pid);
    expect(next).not.toBe(pid);
  });

  test('the pool-wide timeout option applies to tasks that give none', async () => {
    const { pool } = makePool({ maxWorkers: 1, timeout: 300 });
    const error = await rejection(pool.submit(tasks.forever));
    expect(error).toBeInstanceOf(TimeoutError);
    // A task's own timeout overrides the pool's. (Generous: the replacement worker
    // imports the task module first, and that import counts toward the deadline.)
    expect(await pool.submit(tasks.add, [1, 2], { timeout: 30_000 })).toBe(3);
  });

  test('a hard timeout emits a taskTimeout event with the pid and name', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const event = nextEvent(pool, 'taskTimeout');
    const future = pool.submit(tasks.forever, [], { timeout: 200, name: 'spinner' });
    const pid = await started(future);
    await rejection(future);
    expect(await event).toMatchObject({ pid, name: 'spinner', soft: false });
  });

  test('a soft timeout aborts the task signal with a TimeoutError reason, so a cooperative task settles', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const event = nextEvent(pool, 'taskTimeout', (e) => e.soft);
    const future = pool.submit(tasks.cooperative, [], {
      softTimeout: 150,
      timeout: 10_000,
      name: 'coop',
    });
    expect(await future).toBe('TimeoutError');
    expect(await event).toMatchObject({ name: 'coop', soft: true });
  });

  test('a softTimeout without a hard timeout aborts the task signal', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(await pool.submit(tasks.cooperative, [], { softTimeout: 100 })).toBe('TimeoutError');
  });

  test('queueing time does not count toward the timeout', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const g = gate();
    const blocker = pool.submit(tasks.block, [g.path]);
    await started(blocker);
    const waiting = pool.submit(tasks.sleep, [50, 'fine'], { timeout: 1_000 });
    // Keep it waiting for longer than its timeout.
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    expect(waiting.done()).toBe(false);
    g.open();
    expect(await waiting).toBe('fine');
  });
});

describe('workers killed from outside', () => {
  test.each(['SIGTERM', 'SIGKILL'] as const)(
    '%s to a running worker fails that task with ProcessError naming the signal while other tasks finish',
    async (signal) => {
      const { pool } = makePool({ maxWorkers: 2 });
      const g = gate();
      const victim = pool.submit(tasks.block, [g.path, 'victim'], { name: 'the-victim' });
      const bystander = pool.submit(tasks.block, [g.path, 'bystander']);
      const [pid, otherPid] = await Promise.all([started(victim), started(bystander)]);
      expect(pid).not.toBe(otherPid);
      const exit = nextEvent(pool, 'workerExit', (e) => e.pid === pid);
      expect(killChild(pid, signal)).toBe(true);
      const error = (await rejection(victim)) as ProcessError;
      expect(error).toBeInstanceOf(ProcessError);
      expect(error.code).toBe('ERR_DEADPOOL_PROCESS');
      expect(error.pid).toBe(pid);
      expect(error.signal).toBe(signal);
      expect(error.exitCode).toBeNull();
      expect(error.message).toContain(`signal ${signal}`);
      expect(error.message).toContain('exit code null');
      expect(error.message).toContain('the-victim');
      // Counted before the future settled.
      expect(pool.getStatistics().tasksFailed).toBe(1);
      expect(await exit).toMatchObject({ pid, signal, reason: 'crashed' });
      g.open();
      expect(await bystander).toBe('bystander');
      // The dead worker is replaced and the pool goes on.
      expect(await pool.submit(tasks.add, [2, 2])).toBe(4);
    },
  );
});
