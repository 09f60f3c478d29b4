import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import { normalizeOptions } from '../src/parent/options.js';
import { normalizeSubmitOptions } from '../src/parent/submit-options.js';
import { tempDir } from './helpers/files.js';

describe('normalizeOptions', () => {
  test('fills the defaults of the contract', () => {
    const s = normalizeOptions();
    expect(s.maxWorkers).toBe(availableParallelism());
    expect(s.minWorkers).toBe(s.maxWorkers);
    expect(s.idleTimeout).toBe(10_000);
    expect(s.maxTasksPerChild).toBe(Infinity);
    expect(s.maxBacklog).toBe(Infinity);
    expect(s.timeout).toBeUndefined();
    expect(s.serialization).toBe('advanced');
    expect(s.shutdownWait).toBe(true);
    expect(s.shutdownCancelFutures).toBe(false);
    expect(s.initargs).toEqual([]);
  });

  test('messages follow one template naming option, value and type', () => {
    expect(() => normalizeOptions({ maxWorkers: 0 })).toThrow(
      new RangeError('Expected `maxWorkers` to be an integer >= 1, got `0` (number)'),
    );
    expect(() => normalizeOptions({ idleTimeout: 'soon' as never })).toThrow(
      new TypeError(
        'Expected `idleTimeout` to be a finite number of milliseconds > 0, got `soon` (string)',
      ),
    );
  });

  test('minWorkers above maxWorkers is a RangeError naming both', () => {
    expect(() => normalizeOptions({ maxWorkers: 2, minWorkers: 3 })).toThrow(
      /`minWorkers`.*`maxWorkers` \(2\).*`3`/,
    );
  });

  test('an unknown option name is refused', () => {
    expect(() => normalizeOptions({ maxWorker: 2 } as never)).toThrow(/Unknown option `maxWorker`/);
  });

  test('env as an object is copied once; as a function it is called at each spawn', () => {
    const fixed = { A: '1' };
    const s = normalizeOptions({ env: fixed });
    fixed.A = '2';
    expect(s.env()).toEqual({ A: '1' });
    let n = 0;
    const dynamic = normalizeOptions({ env: () => ({ N: String(++n) }) });
    expect(dynamic.env()).toEqual({ N: '1' });
    expect(dynamic.env()).toEqual({ N: '2' });
  });

  test('initargs that cannot be serialized are refused at construction', () => {
    expect(() => normalizeOptions({ initargs: [() => 1] })).toThrow(/`initargs`/);
  });
});

describe('cwd', () => {
  test('a directory that does not exist is refused at construction, naming cwd and the value', () => {
    const missing = join(tempDir(), 'missing');
    expect(() => normalizeOptions({ cwd: missing })).toThrow(
      new TypeError(
        `Expected \`cwd\` to be an existing directory (${missing} does not exist), got \`${missing}\` (string)`,
      ),
    );
  });

  test('a relative path is resolved against process.cwd() for the check, and kept as given', () => {
    const dir = tempDir();
    const rel = relative(process.cwd(), dir);
    expect(normalizeOptions({ cwd: rel }).cwd).toBe(rel);
    expect(() => normalizeOptions({ cwd: join(rel, 'missing') })).toThrow(
      `(${resolve(dir, 'missing')} does not exist), got \`${join(rel, 'missing')}\` (string)`,
    );
  });

  test('a file is not a directory', () => {
    const file = join(tempDir(), 'file');
    writeFileSync(file, '');
    expect(() => normalizeOptions({ cwd: file })).toThrow(`(${file} is not a directory)`);
  });

  test('a URL must be a file: URL naming a directory', () => {
    expect(() => normalizeOptions({ cwd: new URL('http://x/') })).toThrow(
      new TypeError('Expected `cwd` to be a path or a file: URL, got `http://x/` (object)'),
    );
    const dir = tempDir();
    expect(normalizeOptions({ cwd: pathToFileURL(dir) }).cwd).toBe(dir);
    expect(() => normalizeOptions({ cwd: pathToFileURL(join(dir, 'missing')) })).toThrow(
      /^Expected `cwd` to be an existing directory \(.*missing does not exist\), got `file:/,
    );
  });
});

describe('normalizeSubmitOptions', () => {
  test("a task without options gets its pool's defaults, one frozen object per pool", () => {
    const pool = { timeout: 500, queueTimeout: 20 };
    const first = normalizeSubmitOptions(undefined, pool);
    expect(first).toMatchObject({ timeout: 500, queueTimeout: 20, priority: 0, abort: 'kill' });
    expect(Object.isFrozen(first)).toBe(true);
    expect(normalizeSubmitOptions(undefined, pool)).toBe(first);
    const other = normalizeSubmitOptions(undefined, {
      timeout: undefined,
      queueTimeout: undefined,
    });
    expect(other).not.toBe(first);
    expect(other.timeout).toBeUndefined();
  });

  test('a task with only a priority (below 64) shares one frozen object per pool and priority', () => {
    const pool = { timeout: 500, queueTimeout: 20 };
    const three = normalizeSubmitOptions({ priority: 3 }, pool);
    expect(three).toMatchObject({ timeout: 500, queueTimeout: 20, priority: 3, abort: 'kill' });
    expect(Object.isFrozen(three)).toBe(true);
    // Options given as undefined (as JavaScript callers may), or equal to the pool's, are no options.
    expect(normalizeSubmitOptions({ priority: 3, timeout: undefined } as never, pool)).toBe(three);
    expect(normalizeSubmitOptions({ priority: 3, timeout: 500 }, pool)).toBe(three);
    expect(normalizeSubmitOptions({ priority: 0 }, pool)).toBe(
      normalizeSubmitOptions(undefined, pool),
    );
    // Anything else gets an object of its own.
    const named = normalizeSubmitOptions({ priority: 3, name: 'x' }, pool);
    expect(named).not.toBe(three);
    expect(named).toMatchObject({ priority: 3, name: 'x', timeout: 500 });
    expect(normalizeSubmitOptions({ priority: 3, timeout: 400 }, pool).timeout).toBe(400);
    const high = normalizeSubmitOptions({ priority: 64 }, pool);
    expect(high.priority).toBe(64);
    expect(normalizeSubmitOptions({ priority: 64 }, pool)).not.toBe(high);
  });

  test('the pool timeout applies when the task gives none', () => {
    expect(
      normalizeSubmitOptions(undefined, { timeout: 500, queueTimeout: undefined }).timeout,
    ).toBe(500);
    expect(
      normalizeSubmitOptions({ timeout: 50 }, { timeout: 500, queueTimeout: undefined }).timeout,
    ).toBe(50);
  });

  test('a negative or fractional priority is a RangeError', () => {
    expect(() =>
      normalizeSubmitOptions({ priority: -1 }, { timeout: undefined, queueTimeout: undefined }),
    ).toThrow(RangeError);
    expect(() =>
      normalizeSubmitOptions({ priority: 0.5 }, { timeout: undefined, queueTimeout: undefined }),
    ).toThrow(RangeError);
  });

  test('softTimeout must be less than timeout', () => {
    expect(() =>
      normalizeSubmitOptions(
        { timeout: 100, softTimeout: 100 },
        { timeout: undefined, queueTimeout: undefined },
      ),
    ).toThrow(/`softTimeout` to be less than `timeout` \(100 ms\)/);
    expect(
      normalizeSubmitOptions(
        { timeout: 100, softTimeout: 50 },
        { timeout: undefined, queueTimeout: undefined },
      ).softTimeout,
    ).toBe(50);
  });
});

describe('option keys', () => {
  test('every key of SubmitOptions is listed once; map and stream add their own', async () => {
    const { MAP_KEYS, STREAM_KEYS, SUBMIT_KEYS } = await import('../src/parent/submit-options.js');
    expect(new Set(SUBMIT_KEYS).size).toBe(SUBMIT_KEYS.length);
    expect(MAP_KEYS).toEqual([...SUBMIT_KEYS, 'ordered']);
    expect(STREAM_KEYS).toEqual([...SUBMIT_KEYS, 'highWaterMark']);
  });

  test('normalizeSubmitOptions refuses a key outside the allowed list', () => {
    const pool = { timeout: undefined, queueTimeout: undefined };
    expect(() => normalizeSubmitOptions({ timeOut: 1 } as never, pool)).toThrow(
      /^Unknown option `timeOut`; the options are: timeout, softTimeout, /,
    );
    expect(normalizeSubmitOptions({ ordered: true } as never, pool, ['ordered']).priority).toBe(0);
  });
});
