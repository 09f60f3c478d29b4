/**
 * The pure parts of deadpool/bullmq: how an error is written into a job's
 * `failedReason` and rebuilt for the submitter, how submit options map to
 * BullMQ's, and how progress writes are throttled.
 */
import type { Job } from 'bullmq';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeError, rebuildError } from '../src/bullmq/errors.js';
import { jobOf, normalizeWorkerOptions, readJobData } from '../src/bullmq/options.js';
import { ProgressRelay } from '../src/bullmq/progress-relay.js';
import { DeadpoolQueue } from '../src/bullmq/queue.js';
import { Deadpool } from '../dist/index.js';
import { CancelledError, ProcessError, TimeoutError } from '../src/index.js';

describe('errors through failedReason', () => {
  const cases: [string, Error, string, unknown][] = [
    ['a deadpool error', new TimeoutError('task 1 timed out'), 'TimeoutError [ERR_DEADPOOL_TIMEOUT]: task 1 timed out', TimeoutError],
    ['a ProcessError', new ProcessError('worker died', { pid: 1, exitCode: 1, signal: null }), 'ProcessError [ERR_DEADPOOL_PROCESS]: worker died', ProcessError],
    ['a built-in with a code', Object.assign(new RangeError('too far'), { code: 'E_FAR' }), 'RangeError [E_FAR]: too far', RangeError],
    ['a custom class', Object.assign(new Error('no'), { name: 'QuotaError' }), 'QuotaError: no', Error],
    ['a multi-line message', new TypeError('one\ntwo'), 'TypeError: one\ntwo', TypeError],
  ]; // prettier-ignore

  it.each(cases)('%s is written as Name [CODE]: message and rebuilt', (_, error, text, Ctor) => {
    expect(describeError(error)).toBe(text);
    const rebuilt = rebuildError(text);
    expect(rebuilt).toBeInstanceOf(Ctor as new () => Error);
    expect(rebuilt.name).toBe(error.name);
    expect(rebuilt.message).toBe(error.message);
    expect((rebuilt as { code?: unknown }).code).toBe((error as { code?: unknown }).code);
  });

  it('describes a thrown non-Error value', () => {
    expect(describeError('plain')).toBe('Error: plain');
    expect(describeError({ a: 1 })).toBe('Error: {"a":1}');
  });

  it('rebuilds a reason in another format (a stalled job failed by BullMQ) as a plain Error', () => {
    const error = rebuildError('job stalled more than allowable limit');
    expect(error.constructor).toBe(Error);
    expect(error.message).toBe('job stalled more than allowable limit');
  });

  it('rebuilds a cancel as CancelledError', () => {
    expect(rebuildError(describeError(new CancelledError('job 7 was cancelled')))).toBeInstanceOf(
      CancelledError,
    );
  });
});

describe('submit options to BullMQ', () => {
  it('maps priority p to p + 1, and no priority to 1', () => {
    expect(jobOf([], undefined).opts).toEqual({ priority: 1 });
    expect(jobOf([], { priority: 0 }).opts.priority).toBe(1);
    expect(jobOf([], { priority: 7 }).opts.priority).toBe(8);
    expect(() => jobOf([], { priority: 2 ** 21 - 1 })).toThrow(RangeError);
  });

  it('puts args and timeout in the job data, and BullMQ options in opts', () => {
    const { data, opts } = jobOf([1, 'a'], {
      timeout: 500,
      attempts: 3,
      backoff: 10,
      delay: 5,
      jobId: 'x',
    });
    expect(data).toEqual({ args: [1, 'a'], timeout: 500 });
    expect(opts).toEqual({ priority: 1, attempts: 3, backoff: 10, delay: 5, jobId: 'x' });
  });

  it('refuses bad options with the one message template', () => {
    expect(() => jobOf([], { attempts: 0 })).toThrow(
      'Expected `attempts` to be an integer >= 1, got `0` (number)',
    );
    expect(() => jobOf('x', undefined)).toThrow(TypeError);
    expect(() => jobOf([], { jobId: 'a:b' })).toThrow(/jobId/);
  });

  it('refuses a misspelt key instead of adding a job without its timeout', () => {
    expect(() => jobOf([], { timeOut: 200 } as never)).toThrow(
      new TypeError(
        'Unknown option `timeOut` of DeadpoolQueue#submit(); the options are: timeout, priority, attempts, backoff, jobId, delay, signal, onProgress',
      ),
    );
  });

  it('refuses options that are not an options object', () => {
    expect(() => jobOf([], [] as never)).toThrow(
      new TypeError(
        'Expected `options` of DeadpoolQueue#submit() to be an options object, got `` (array)',
      ),
    );
    expect(() => jobOf([], null as never)).toThrow(/got `null` \(null\)/);
  });

  it('accepts only { args: [...], timeout? } as job data', () => {
    expect(readJobData({ args: [1] })).toEqual({ args: [1] });
    expect(readJobData({ args: [], timeout: 10 })).toEqual({ args: [], timeout: 10 });
    for (const bad of [
      null,
      'x',
      {},
      { args: 'x' },
      { args: [], timeout: -1 },
      { module: '/etc' },
    ]) {
      expect(readJobData(bad)).toBeUndefined();
    }
  });
});

describe('createQueueWorker options', () => {
  const base = { queue: 'q', connection: {}, tasks: [] };

  it.each([
    ['concurency', { concurency: 1 }],
    ['drainTimout', { drainTimout: 10 }],
  ])('refuses the misspelt key %s', (key, extra) => {
    expect(() => normalizeWorkerOptions({ ...base, ...extra })).toThrow(
      new TypeError(
        `Unknown option \`${key}\` of createQueueWorker(); the options are: queue, connection, tasks, pool, concurrency, retryOn, drainTimeout, progressInterval, workerOptions`,
      ),
    );
  });

  it('refuses options that are not an options object, or no options', () => {
    expect(() => normalizeWorkerOptions(undefined as never)).toThrow(
      new TypeError(
        'Expected `options` of createQueueWorker() to be an options object, got `undefined` (undefined)',
      ),
    );
    expect(() => normalizeWorkerOptions([] as never)).toThrow(TypeError);
  });

  it("default concurrency to the pool's maxWorkers, given as options or as a Deadpool", async () => {
    const base = { queue: 'q', connection: {}, tasks: [] };
    expect(normalizeWorkerOptions({ ...base, pool: { maxWorkers: 3 } }).concurrency).toBe(3);
    const pool = new Deadpool({ maxWorkers: 2 });
    try {
      // A Deadpool (here the built one) is read through its public `maxWorkers`.
      const given = pool as never;
      expect(normalizeWorkerOptions({ ...base, pool: given }).concurrency).toBe(2);
      expect(normalizeWorkerOptions({ ...base, pool: given, concurrency: 5 }).concurrency).toBe(5);
    } finally {
      await pool.shutdown({ wait: false, cancelFutures: true });
    }
  });
});

describe('DeadpoolQueue options', () => {
  // Refused before any connection is made: no Redis is needed.
  const connection = { host: '127.0.0.1', port: 1 };

  it('refuses a misspelt key', () => {
    expect(() => new DeadpoolQueue('q', { connection, prefx: 'x' } as never)).toThrow(
      new TypeError(
        'Unknown option `prefx` of new DeadpoolQueue(); the options are: connection, defaultJobOptions, prefix',
      ),
    );
  });

  it('refuses options that are not an options object', () => {
    expect(() => new DeadpoolQueue('q', [] as never)).toThrow(
      /^Expected `options` of new DeadpoolQueue\(\) to be an options object, got `` \(array\)$/,
    );
  });
});

describe('ProgressRelay', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function fakeJob(): { job: Job; writes: unknown[] } {
    const writes: unknown[] = [];
    const job = { updateProgress: vi.fn(async (value: unknown) => void writes.push(value)) };
    return { job: job as unknown as Job, writes };
  }

  it('writes the first value at once, then at most one per interval, always the latest', async () => {
    vi.useFakeTimers();
    const { job, writes } = fakeJob();
    const relay = new ProgressRelay(job, 100);
    relay.push(1);
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 2; i <= 10; i++) relay.push(i);
    await vi.advanceTimersByTimeAsync(50);
    expect(writes).toEqual([1]);
    await vi.advanceTimersByTimeAsync(60);
    expect(writes).toEqual([1, 10]);
    relay.push(11);
    await relay.flush();
    expect(writes).toEqual([1, 10, 11]);
    relay.push(12);
    await vi.advanceTimersByTimeAsync(500);
    expect(writes).toEqual([1, 10, 11]);
  });

  it('drops what waits when closed, and survives a failed write', async () => {
    vi.useFakeTimers();
    const { job, writes } = fakeJob();
    vi.mocked(job.updateProgress).mockRejectedValueOnce(new Error('redis away'));
    const relay = new ProgressRelay(job, 100);
    relay.push('lost');
    await vi.advanceTimersByTimeAsync(0);
    relay.push('kept');
    await relay.flush();
    expect(writes).toEqual(['kept']);
    const other = new ProgressRelay(job, 100);
    other.push('a');
    other.push('b');
    other.close();
    await vi.advanceTimersByTimeAsync(500);
    expect(writes).toEqual(['kept', 'a']);
  });
});
