/**
 * Option validation (docs/api.md "Options", "submit"): bad values throw TypeError/RangeError at
 * once, with a message that names the option and the value.
 */
import { describe, expect, test } from 'vitest';
import { defineTask, task, type DeadpoolOptions } from '../dist/index.js';
import * as streams from './fixtures/core/streams.mjs';
import * as tasks from './fixtures/core/tasks.mjs';
import { makePool, waitFor } from './helpers/index.js';

type ErrorClass = typeof TypeError | typeof RangeError;
const NUMERIC = [TypeError, RangeError] as const;

/** Calls `fn`, expects one of `classes`, and a message naming `option` and showing `shown`. */
function expectOptionError(
  fn: () => unknown,
  option: string,
  shown: string,
  classes: readonly ErrorClass[],
): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, `${option} = ${shown} should throw`).toBeInstanceOf(Error);
  expect(
    classes.some((cls) => error instanceof cls),
    `${option} = ${shown}: expected ${classes.map((c) => c.name).join(' or ')}, got ${(error as Error).name}`,
  ).toBe(true);
  const message = (error as Error).message;
  expect(message).toContain(option);
  expect(message).toContain(shown);
}

// [option, value, how the value appears in the message, allowed error classes]
const badConstructorOptions: Array<
  [keyof DeadpoolOptions, unknown, string, readonly ErrorClass[]]
> = [
  ['maxWorkers', 0, '0', NUMERIC],
  ['maxWorkers', -1, '-1', NUMERIC],
  ['maxWorkers', 1.5, '1.5', NUMERIC],
  ['maxWorkers', Number.NaN, 'NaN', NUMERIC],
  ['maxWorkers', Number.POSITIVE_INFINITY, 'Infinity', NUMERIC],
  ['maxWorkers', 'two', 'two', [TypeError]],
  ['minWorkers', -1, '-1', NUMERIC],
  ['minWorkers', 0.5, '0.5', NUMERIC],
  ['minWorkers', 'one', 'one', [TypeError]],
  ['idleTimeout', -1, '-1', NUMERIC],
  ['idleTimeout', 'soon', 'soon', [TypeError]],
  ['maxTasksPerChild', 0, '0', NUMERIC],
  ['maxTasksPerChild', -3, '-3', NUMERIC],
  ['maxTasksPerChild', 2.5, '2.5', NUMERIC],
  ['maxWorkerMemoryBytes', -1, '-1', NUMERIC],
  ['maxWorkerMemoryBytes', 1.5, '1.5', NUMERIC],
  ['memoryLimitBytes', -1, '-1', NUMERIC],
  ['memoryLimitBytes', 'lots', 'lots', [TypeError]],
  ['maxBacklog', -1, '-1', NUMERIC],
  ['maxBacklog', 1.5, '1.5', NUMERIC],
  ['timeout', -1, '-1', NUMERIC],
  ['timeout', 'slow', 'slow', [TypeError]],
  ['initializer', 'setup', 'setup', [TypeError]],
  ['initializer', 42, '42', [TypeError]],
  ['finalizer', 'teardown', 'teardown', [TypeError]],
  ['initargs', 'not-an-array', 'not-an-array', [TypeError]],
  ['finalargs', 7, '7', [TypeError]],
  ['env', 42, '42', [TypeError]],
  ['execArgv', '--inspect', '--inspect', [TypeError]],
  ['cwd', 17, '17', [TypeError]],
  ['serialization', 'xml', 'xml', NUMERIC],
  ['shutdownWait', 'yes', 'yes', [TypeError]],
  ['shutdownCancelFutures', 1, '1', [TypeError]],
];

describe('constructor options', () => {
  test.each(badConstructorOptions)(
    '%s = %s is refused with a message naming it',
    (option, value, shown, classes) => {
      expectOptionError(() => makePool({ [option]: value }), option, shown, classes);
    },
  );

  test('minWorkers greater than maxWorkers is refused with a RangeError naming both', () => {
    let error: unknown;
    try {
      makePool({ minWorkers: 3, maxWorkers: 2 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toContain('minWorkers');
    expect((error as Error).message).toContain('maxWorkers');
    expect((error as Error).message).toContain('3');
  });

  test('minWorkers greater than the default maxWorkers is refused', () => {
    expect(() => makePool({ minWorkers: 100_000 })).toThrow(RangeError);
  });

  test('good options are accepted, including minWorkers 0 and maxBacklog Infinity', async () => {
    const { pool } = makePool({
      maxWorkers: 2,
      minWorkers: 0,
      idleTimeout: 1_000,
      maxTasksPerChild: 5,
      maxBacklog: Number.POSITIVE_INFINITY,
      timeout: 5_000,
      serialization: 'advanced',
      shutdownWait: true,
      shutdownCancelFutures: false,
    });
    expect(await pool.submit(tasks.add, [1, 2])).toBe(3);
  });

  test('the constructor with no options at all makes a working pool', async () => {
    const { pool } = makePool();
    expect(await pool.submit(tasks.add, [2, 2])).toBe(4);
  });
});

describe('submit options', () => {
  const bad: Array<[string, Record<string, unknown>, string, string, readonly ErrorClass[]]> = [
    ['timeout', { timeout: -5 }, 'timeout', '-5', NUMERIC],
    ['timeout', { timeout: 'soon' }, 'timeout', 'soon', [TypeError]],
    ['softTimeout', { softTimeout: -1 }, 'softTimeout', '-1', NUMERIC],
    ['priority', { priority: -1 }, 'priority', '-1', [RangeError]],
    ['priority', { priority: 0.5 }, 'priority', '0.5', [RangeError]],
    ['signal', { signal: 'abort' }, 'signal', 'abort', [TypeError]],
    ['name', { name: 12 }, 'name', '12', [TypeError]],
  ];

  test.each(bad)(
    'submit with a bad %s (%o) throws at once',
    (_label, options, option, shown, classes) => {
      const { pool } = makePool({ maxWorkers: 1 });
      expectOptionError(() => pool.submit(tasks.add, [1, 2], options), option, shown, classes);
    },
  );

  test('a softTimeout not less than the timeout is refused with a RangeError', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.submit(tasks.add, [1, 2], { timeout: 100, softTimeout: 100 })).toThrow(
      RangeError,
    );
    expect(() => pool.submit(tasks.add, [1, 2], { timeout: 100, softTimeout: 200 })).toThrow(
      RangeError,
    );
  });

  test('args that are not an array are refused with a TypeError', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.submit(tasks.add, 'nope' as never)).toThrow(TypeError);
    expect(() => pool.submit(tasks.add, null as never)).toThrow(
      new TypeError('Expected `args` to be an array of arguments, got `null` (null)'),
    );
  });

  test('options that are an array are refused as not an options object', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.submit(tasks.add, [1, 2], [] as never)).toThrow(
      new TypeError('Expected `options` to be an options object, got `` (array)'),
    );
    expect(() => pool.stream(streams.count, [3], [] as never)).toThrow(
      new TypeError('Expected `options` to be an options object, got `` (array)'),
    );
    expect(pool.getStatistics().tasksReceived).toBe(0);
  });

  test('args left out, or undefined before options, run the task with none', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(typeof (await pool.submit(tasks.pid))).toBe('number');
    expect(typeof (await pool.submit(tasks.pid, undefined, { name: 'no-args' }))).toBe('number');
  });
});

describe('task references', () => {
  test('a null task, module, name or function reads as null in the message', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.submit(null as never, [] as never)).toThrow(
      new TypeError(
        'Expected `fn` to be a function, a defineTask() handle or a task() reference, got `null` (null)',
      ),
    );
    expect(() => task(null as never)).toThrow(
      new TypeError('Expected `module` to be an absolute path or a file: URL, got `null` (null)'),
    );
    expect(() => task('/tmp/x.mjs', null as never)).toThrow(
      new TypeError('Expected `exportName` to be a non-empty string, got `null` (null)'),
    );
    expect(() => defineTask(import.meta.url, 'a', null as never)).toThrow(
      new TypeError('Expected `fn` to be a function, got `null` (null)'),
    );
  });
});

describe('unknown option keys', () => {
  const SUBMIT =
    'timeout, softTimeout, priority, queueTimeout, signal, abort, name, onProgress, tenant, affinity';

  test('submit refuses a misspelt key instead of running the task without its timeout', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.submit(tasks.add, [1, 2], { timeOut: 5000 } as never)).toThrow(
      new TypeError(`Unknown option \`timeOut\`; the options are: ${SUBMIT}`),
    );
    expect(pool.getStatistics().tasksReceived).toBe(0);
  });

  test('submit refuses the keys that only map and stream know', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.submit(tasks.add, [1, 2], { ordered: false } as never)).toThrow(
      /^Unknown option `ordered`; the options are: timeout, /,
    );
    expect(() => pool.submit(tasks.add, [1, 2], { highWaterMark: 4 } as never)).toThrow(
      /^Unknown option `highWaterMark`/,
    );
  });

  test("map refuses an unknown key, listing submit's keys and ordered", () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.map(tasks.square, [1, 2], { timeOut: 5000 } as never)).toThrow(
      new TypeError(`Unknown option \`timeOut\`; the options are: ${SUBMIT}, ordered`),
    );
  });

  test("stream refuses an unknown key, listing submit's keys and highWaterMark", () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.stream(streams.count, [3], { highwatermark: 2 } as never)).toThrow(
      new TypeError(`Unknown option \`highwatermark\`; the options are: ${SUBMIT}, highWaterMark`),
    );
  });

  test('map and stream still take every key they took before', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const seen: number[] = [];
    const options = { timeout: 5_000, priority: 1, name: 'sq', queueTimeout: 5_000 };
    for await (const n of pool.map(tasks.square, [1, 2, 3], { ...options, ordered: false })) {
      seen.push(n);
    }
    expect(seen.sort()).toEqual([1, 4, 9]);
    const values: number[] = [];
    for await (const n of pool.stream(streams.count, [3], { ...options, highWaterMark: 2 })) {
      values.push(n);
    }
    expect(values).toEqual([0, 1, 2]);
  });
});

describe('shutdown options', () => {
  test.each([
    ['wiat', { cancelFutures: true, wiat: false }],
    ['cancelFuture', { cancelFuture: true }],
  ])('shutdown refuses the misspelt key %s and the pool goes on', async (key, options) => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.shutdown(options as never)).toThrow(
      new TypeError(
        `Unknown option \`${key}\` of shutdown(); the options are: wait, cancelFutures`,
      ),
    );
    expect(await pool.submit(tasks.add, [1, 2])).toBe(3);
  });

  test.each([
    [null, '`null` (null)'],
    ['x', '`x` (string)'],
    [[], '`` (array)'],
  ])('shutdown refuses %o as its options with a TypeError', (options, shown) => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.shutdown(options as never)).toThrow(
      new TypeError(`Expected \`options\` of shutdown() to be an options object, got ${shown}`),
    );
  });

  test('shutdown refuses wait and cancelFutures that are not booleans, also on a later call', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.shutdown({ wait: 'no' as never })).toThrow(
      new TypeError('Expected `wait` to be a boolean, got `no` (string)'),
    );
    await pool.shutdown({ wait: true });
    expect(() => pool.shutdown({ cancelFutures: 1 as never })).toThrow(
      new TypeError('Expected `cancelFutures` to be a boolean, got `1` (number)'),
    );
  });
});

describe('resize', () => {
  test('maxWorkers and minWorkers read the bounds in force: the constructor’s, then resize()’s', () => {
    const { pool } = makePool({ maxWorkers: 2, minWorkers: 1 });
    expect([pool.maxWorkers, pool.minWorkers]).toEqual([2, 1]);
    pool.resize({ maxWorkers: 3 });
    expect([pool.maxWorkers, pool.minWorkers]).toEqual([3, 1]);
    pool.resize({ maxWorkers: 1 });
    expect([pool.maxWorkers, pool.minWorkers]).toEqual([1, 1]);
  });

  test('resize refuses a misspelt key instead of changing nothing', () => {
    const { pool } = makePool({ maxWorkers: 2 });
    expect(() => pool.resize({ maxworkers: 1 } as never)).toThrow(
      new TypeError(
        'Unknown option `maxworkers` of resize(); the options are: minWorkers, maxWorkers',
      ),
    );
    expect(() => pool.resize([] as never)).toThrow(
      new TypeError('Expected `bounds` of resize() to be an options object, got `` (array)'),
    );
    expect(pool.maxWorkers).toBe(2);
  });

  test('resize refuses minWorkers greater than maxWorkers with a RangeError', () => {
    const { pool } = makePool({ maxWorkers: 2 });
    expect(() => pool.resize({ minWorkers: 3, maxWorkers: 2 })).toThrow(RangeError);
    expect(() => pool.resize({ maxWorkers: 0 })).toThrow(/maxWorkers/);
  });

  test('resize to more workers starts them, and back down retires the extra ones when idle', async () => {
    const { pool } = makePool({ maxWorkers: 1, minWorkers: 1, idleTimeout: 200 });
    await pool.ready();
    pool.resize({ minWorkers: 3, maxWorkers: 3 });
    await waitFor(() => pool.getStatistics().workerProcessesStillAlive === 3, {
      what: 'three workers',
    });
    pool.resize({ minWorkers: 1, maxWorkers: 1 });
    await waitFor(() => pool.getStatistics().workerProcessesStillAlive === 1, {
      what: 'back to one worker',
    });
    expect(await pool.submit(tasks.add, [1, 2])).toBe(3);
  });
});
