/**
 * submit(): the three forms of task (docs/api.md "Tasks"), what crosses the process
 * boundary, and the future it returns (docs/api.md "submit").
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { Future, SerializationError, task } from '../dist/index.js';
import * as errs from './fixtures/core/errors.mjs';
import * as misnamed from './fixtures/core/misnamed.mjs';
import * as mismatch from './fixtures/core/mismatch.mjs';
import * as tasks from './fixtures/core/tasks.mjs';
import { fixture, makePool, rejection, tempDir } from './helpers/index.js';

describe('defined tasks (form 1)', () => {
  test('a defined task runs in a worker and its future resolves with the result', async () => {
    const { pool, pids } = makePool({ maxWorkers: 1 });
    const future = pool.submit(tasks.add, [2, 3]);
    expect(future).toBeInstanceOf(Future);
    expect(await future).toBe(5);
    const pid = await pool.submit(tasks.pid);
    expect(pid).not.toBe(process.pid);
    expect(pids.has(pid)).toBe(true);
  });

  test('submit returns a future at once, before any worker has run the task', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const future = pool.submit(tasks.sleep, [50, 'late']);
    expect(future.done()).toBe(false);
    expect(future.pid).toBeUndefined();
    return expect(future).resolves.toBe('late');
  });

  test('a defined task exported under another name is not confused with the export of its defined name', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    // Either it is found and run, or it fails clearly; it must never run the unrelated export.
    const outcome = await pool.submit(mismatch.realName).then(
      (value) => value,
      (error: unknown) => error,
    );
    expect(outcome).not.toBe('an unrelated function');
    if (outcome instanceof Error) expect(outcome.message).toMatch(/otherName/);
    else expect(outcome).toBe('the defined task');
  });

  test('a defineTask name that differs from its export name fails with a hint naming the export', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const error = await rejection(pool.submit(misnamed.resize, [8]));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain(
      'the name given to defineTask() must equal the name of its export; ' +
        "the task defined as `resizeImage` is exported as `resize`, so write defineTask(import.meta.url, 'resize', ...)",
    );
  });

  test('a defined task the module does not export fails with a hint listing the exports', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const error = await rejection(pool.submit(misnamed.unexportedTask(), [8]));
    expect((error as Error).message).toMatch(
      /^export `thumbnail` of .*misnamed\.mjs is not a function/,
    );
    expect((error as Error).message).toContain(
      'must equal the name of its export; the module exports `resize`, `unexportedTask`',
    );
  });

  test('a task with no arguments can be submitted without an argument list', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(typeof (await pool.submit(tasks.pid))).toBe('number');
  });

  test('a defineTask handle is still callable in the parent', async () => {
    expect(tasks.add(20, 22)).toBe(42);
    expect(tasks.square(7)).toBe(49);
    expect(await tasks.sleep(1, 'here')).toBe('here');
    expect(tasks.pid()).toBe(process.pid);
  });

  test('structured-clone values survive the round trip by default', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const cyclic: { self?: unknown; n: number } = { n: 1 };
    cyclic.self = cyclic;
    const value = {
      map: new Map<string, number>([['a', 1]]),
      set: new Set([1, 2]),
      date: new Date(1_700_000_000_000),
      big: 2n ** 70n,
      typed: new Uint16Array([1, 2, 65535]),
      buffer: Buffer.from('hi'),
      undef: undefined,
      nan: Number.NaN,
      cyclic,
    };
    const back = (await pool.submit(tasks.echo, [value])) as typeof value;
    expect(back.map).toBeInstanceOf(Map);
    expect(back.map.get('a')).toBe(1);
    expect(back.set).toEqual(new Set([1, 2]));
    expect(back.date).toBeInstanceOf(Date);
    expect(back.date.getTime()).toBe(1_700_000_000_000);
    expect(back.big).toBe(2n ** 70n);
    expect(back.typed).toBeInstanceOf(Uint16Array);
    expect([...back.typed]).toEqual([1, 2, 65535]);
    expect(Buffer.from(back.buffer).toString()).toBe('hi');
    expect('undef' in back).toBe(true);
    expect(back.undef).toBeUndefined();
    expect(back.nan).toBeNaN();
    expect(back.cyclic.self).toBe(back.cyclic);
  });

  test("serialization 'json' sends arguments and results as JSON", async () => {
    const { pool } = makePool({ maxWorkers: 1, serialization: 'json' });
    expect(await pool.submit(tasks.echo, [{ a: [1, 'two', null] }])).toEqual({
      a: [1, 'two', null],
    });
    // A Date becomes its JSON string on the way.
    expect(await pool.submit(tasks.echo, [new Date(0)])).toBe('1970-01-01T00:00:00.000Z');
  });
});

describe('serialization', () => {
  test('a large Buffer crosses both ways intact', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const big = Buffer.alloc(8 * 1024 * 1024, 7);
    const back = (await pool.submit(tasks.echo, [big])) as Uint8Array;
    expect(back.byteLength).toBe(big.byteLength);
    expect(back[0]).toBe(7);
    expect(back[back.byteLength - 1]).toBe(7);
  });

  test("with serialization 'json', an argument JSON cannot encode (a BigInt) rejects with SerializationError and harms no worker", async () => {
    const { pool } = makePool({ maxWorkers: 1, serialization: 'json' });
    const pid = await pool.submit(tasks.pid);
    expect(await rejection(pool.submit(tasks.echo, [10n]))).toBeInstanceOf(SerializationError);
    expect(await pool.submit(tasks.pid)).toBe(pid);
  });

  test("with serialization 'json', a result JSON cannot encode (a BigInt) rejects with SerializationError", async () => {
    const { pool } = makePool({ maxWorkers: 1, serialization: 'json' });
    expect(await rejection(pool.submit(() => 10n))).toBeInstanceOf(SerializationError);
    expect(await pool.submit(tasks.add, [1, 2])).toBe(3);
  });

  test("with serialization 'json', a task error still keeps its class, name, message, code and cause", async () => {
    const { pool } = makePool({ maxWorkers: 1, serialization: 'json' });
    const error = (await rejection(pool.submit(errs.throwCustom))) as Error & {
      code: string;
      field: string;
    };
    expect(error.name).toBe('ValidationError');
    expect(error.message).toBe('invalid email');
    expect(error.code).toBe('E_VALIDATION');
    expect(error.field).toBe('email');
    expect((error.cause as Error).message).toBe('middle cause');
    expect(await rejection(pool.submit(errs.throwTypeError))).toBeInstanceOf(TypeError);
  });
});

describe('module references (form 2)', () => {
  test("task(url, 'name') runs a named export of a plain ESM module", async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const greet = task<(name: string) => Promise<string>>(fixture('core/plain.mjs'), 'greet');
    expect(await pool.submit(greet, ['ada'])).toBe('hello ada from esm');
  });

  test('task(url) runs the default export of an ESM module', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const multiply = task<(a: number, b: number) => number>(fixture('core/plain.mjs'));
    expect(await pool.submit(multiply, [6, 7])).toBe(42);
  });

  test('task() accepts a URL object as well as a string', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const multiply = task<(a: number, b: number) => number>(new URL(fixture('core/plain.mjs')));
    expect(await pool.submit(multiply, [3, 3])).toBe(9);
  });

  test('task(path) runs the module.exports function of a CommonJS module', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const subtract = task<(a: number, b: number) => number>(
      fileURLToPath(fixture('core/common.cjs')),
    );
    expect(await pool.submit(subtract, [10, 4])).toBe(6);
  });

  test("task(path, 'name') runs a property of a CommonJS module's exports, loaded as CommonJS", async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const path = fileURLToPath(fixture('core/common.cjs'));
    const shout = task<(word: string) => string>(path, 'shout');
    const kind = task<() => string>(path, 'kind');
    expect(await pool.submit(shout, ['hey'])).toBe('HEY from cjs');
    expect(await pool.submit(kind)).toBe('commonjs');
  });

  test('task() refuses a relative path with a TypeError', () => {
    expect(() => task('./fixtures/core/plain.mjs')).toThrow(TypeError);
  });
});

describe('self-contained functions (form 3)', () => {
  test('a self-contained arrow function runs with its arguments', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(await pool.submit((a: number, b: number) => a * 10 + b, [4, 2])).toBe(42);
  });

  test('a self-contained function runs in the worker, not in the parent', async () => {
    const { pool, pids } = makePool({ maxWorkers: 1 });
    const pid = await pool.submit(() => process.pid);
    expect(pids.has(pid)).toBe(true);
  });

  test('a self-contained async function may use await import()', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const result = await pool.submit(
      async (name: string) => {
        const os = await import('node:os');
        const { basename } = await import('node:path');
        return `${os.platform()}:${basename(name)}`;
      },
      ['/a/b/c.txt'],
    );
    expect(result).toBe(`${process.platform}:c.txt`);
  });

  test('a self-contained function may use require()', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const joined = await pool.submit(
      function joinParts(a: string, b: string) {
        const path = require('node:path') as typeof import('node:path');
        return path.posix.join(a, b);
      },
      ['x', 'y'],
    );
    expect(joined).toBe('x/y');
  });

  test("require() in a self-contained function resolves from the pool's cwd", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'node_modules', 'deadpool-core-local'), { recursive: true });
    writeFileSync(
      join(dir, 'node_modules', 'deadpool-core-local', 'index.js'),
      "module.exports = 'found locally';\n",
    );
    const { pool } = makePool({ maxWorkers: 1, cwd: dir });
    expect(await pool.submit(() => require('deadpool-core-local') as string)).toBe('found locally');
  });

  test('a function that captures an outer variable fails with a ReferenceError that points to defineTask', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const factor = 3;
    const error = await rejection(pool.submit((n: number) => n * factor, [2]));
    expect(error).toBeInstanceOf(ReferenceError);
    expect((error as Error).message).toMatch(/factor/);
    expect((error as Error).message).toMatch(/defineTask|form 1/);
    // The pool goes on.
    expect(await pool.submit((n: number) => n * 3, [2])).toBe(6);
  });

  test('a method is refused at submit with a TypeError', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const holder = {
      compute(n: number) {
        return n + 1;
      },
    };
    expect(() => pool.submit(holder.compute, [1])).toThrow(TypeError);
  });

  test('a bound function is refused at submit with a TypeError', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const bound = function (this: unknown, n: number) {
      return n;
    }.bind(null);
    expect(() => pool.submit(bound, [1])).toThrow(TypeError);
  });

  test('a native function is refused at submit with a TypeError', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    expect(() => pool.submit(Math.max, [1, 2])).toThrow(TypeError);
  });

  test('something that is not a task is refused at submit with a TypeError', () => {
    const { pool } = makePool({ maxWorkers: 1 });
    // @ts-expect-error a number is not a task
    expect(() => pool.submit(42)).toThrow(TypeError);
  });
});
