/**
 * The code cache (src/shared/code-cache.ts, docs/api.md "Code cache"): the
 * pool's bundle and the worker's run from a V8 code cache of this user's
 * only, written once by a process that found none. Each run here is a fresh
 * Node process with its own cache directory and NODE_DEBUG=deadpool, whose
 * lines say what each bundle did.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Script } from 'node:vm';
import { describe, expect, test } from 'vitest';
import { CODE_CACHE_WRITE_MS } from '../src/parent/engine.js';
import {
  configuredDir,
  flagsTag,
  KEEP_PER_BUNDLE,
  ORPHAN_TEMP_MS,
} from '../src/shared/code-cache.js';
import { tempDir } from './helpers/index.js';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const tasks = new URL('./fixtures/core/tasks.mjs', import.meta.url).href;

/**
 * Run a pool of one in a fresh process: a task (`square` from `taskModule`),
 * then `then`, by default a shutdown. Its debug lines about the cache, and
 * what it printed.
 */
function run(
  cache: string,
  {
    flags = [] as string[],
    then = 'await pool.shutdown(); console.log(result);',
    taskModule = tasks,
  } = {},
): { lines: string[]; result: string } {
  const file = join(tempDir(), 'cached.mjs');
  writeFileSync(
    file,
    `const { Deadpool } = await import(${JSON.stringify(pathToFileURL(`${dist}index.js`).href)});
    const { square } = await import(${JSON.stringify(taskModule)});
    const pool = new Deadpool({ maxWorkers: 1, containment: 'process-group' });
    const result = await pool.submit(square, [7]);
    ${then}`,
  );
  const { stdout, stderr, status } = spawnSync(process.execPath, [...flags, file], {
    encoding: 'utf8',
    // Flags come from `flags` only: NODE_OPTIONS would name other files.
    env: { ...process.env, DEADPOOL_CODE_CACHE: cache, NODE_DEBUG: 'deadpool', NODE_OPTIONS: '' },
    // A hung script is killed, its pool's workers with it (the sentinel).
    timeout: 20_000,
    killSignal: 'SIGKILL',
  });
  if (status !== 0) throw new Error(`the script failed (${status}): ${stderr}`);
  const lines = stderr
    .split('\n')
    .filter((l) => l.includes('code cache: '))
    .map((l) => l.replace(/^.*code cache: /, ''));
  return { lines, result: stdout.trim() };
}

function caches(dir: string): string[] {
  return readdirSync(dir).sort();
}

describe('code cache', () => {
  test('a process that finds none writes one for the pool and its workers, and the next runs with them', () => {
    const dir = join(tempDir(), 'cache');
    const first = run(dir);
    expect(first.result).toBe('49');
    expect(first.lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^pool run without \(no .*\/pool-\w+-v[\d.]+-\w+\.bin\)$/),
        expect.stringMatching(/^worker run without \(no .*\/worker-\w+-v[\d.]+-\w+\.bin\)$/),
        expect.stringMatching(/^wrote .*\/pool-/),
        expect.stringMatching(/^wrote .*\/worker-/),
      ]),
    );
    const files = caches(dir);
    expect(files).toHaveLength(2);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of files) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);

    const second = run(dir);
    expect(second.result).toBe('49');
    expect(second.lines.sort()).toEqual(
      [`pool run with ${join(dir, files[0]!)}`, `worker run with ${join(dir, files[1]!)}`].sort(),
    );
    expect(caches(dir)).toEqual(files);
  });

  test('a pool never shut down (a service) writes its file CODE_CACHE_WRITE_MS after its first task', () => {
    const dir = join(tempDir(), 'cache');
    // A task module with `deadpool/task` only: its worker never loads the
    // pool's bundle, so the pool's file can only come from the pool's process.
    const taskModule = join(tempDir(), 'square.mjs');
    writeFileSync(
      taskModule,
      `import { defineTask } from ${JSON.stringify(pathToFileURL(`${dist}task-module.js`).href)};
      export const square = defineTask(import.meta.url, 'square', (x) => x * x);`,
    );
    // It waits for the file (bounded), then exits without a shutdown.
    const { lines, result } = run(dir, {
      taskModule: pathToFileURL(taskModule).href,
      then: `const { readdirSync } = await import('node:fs');
      const written = () => readdirSync(${JSON.stringify(dir)}).some((f) => /^pool-.*\\.bin$/.test(f));
      const since = Date.now();
      while (!written() && Date.now() - since < 10_000) await new Promise((r) => setTimeout(r, 20));
      console.log(result, written() ? 'written' : 'missing', Date.now() - since >= ${CODE_CACHE_WRITE_MS} - 50);
      process.exit(0);`,
    });
    expect(result).toBe('49 written true');
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^wrote .*\/pool-/)]));
  });

  test('a file V8 rejects is not used, and is written again', () => {
    const dir = join(tempDir(), 'cache');
    run(dir);
    const files = caches(dir);
    for (const f of files)
      writeFileSync(join(dir, f), Buffer.alloc(statSync(join(dir, f)).size, 7));
    const again = run(dir);
    expect(again.result).toBe('49');
    expect(again.lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^pool run without \(V8 rejected /),
        expect.stringMatching(/^worker run without \(V8 rejected /),
      ]),
    );
    for (const f of files) expect(readFileSync(join(dir, f)).every((b) => b === 7)).toBe(false);
    expect(run(dir).lines.every((l) => l.includes(' run with '))).toBe(true);
  });

  test('off: nothing is read or written', () => {
    const { lines, result } = run('off');
    expect(result).toBe('49');
    expect(lines.sort()).toEqual(['pool run without (off)', 'worker run without (off)']);
  });

  test('a directory that others may read or write is not used', () => {
    const dir = join(tempDir(), 'shared');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    const { lines, result } = run(dir);
    expect(result).toBe('49');
    expect(lines).toContain(`${dir} is not a directory of this user's only; not used`);
    expect(lines).toContain('pool run without (off)');
    expect(caches(dir)).toEqual([]);
  });

  test('with source maps on, the bundles load through require(), without the cache, and stack traces name the sources', () => {
    const dir = join(tempDir(), 'cache');
    const { lines, result } = run(dir, { flags: ['--enable-source-maps'] });
    expect(result).toBe('49');
    expect(lines).toContain('pool loaded by require() (source maps are on)');
    expect(caches(dir).filter((f) => f.startsWith('pool-'))).toEqual([]);
    const file = join(tempDir(), 'stack.mjs');
    writeFileSync(
      file,
      `const { Deadpool } = await import(${JSON.stringify(pathToFileURL(`${dist}index.js`).href)});
      try { new Deadpool({ maxWorkers: 0 }); } catch (error) { console.log(error.stack); }`,
    );
    const stack = spawnSync(process.execPath, ['--enable-source-maps', file], {
      encoding: 'utf8',
      timeout: 20_000,
      killSignal: 'SIGKILL',
    });
    expect(stack.stdout).toMatch(/src\/parent\/validate\.ts:\d+:\d+/);
  });

  test('each script body is compiled as read, ASCII only (one byte a character in V8), and its value is the bundle', () => {
    const bodies = [
      ...readdirSync(join(dist, 'parent')).map((f) => join(dist, 'parent', f)),
      join(dist, 'child', 'worker.vm.cjs'),
    ].filter((f) => f.endsWith('.vm.cjs'));
    expect(bodies).toHaveLength(2);
    for (const file of bodies) {
      const source = readFileSync(file, 'latin1');
      expect(source.match(/[\u0080-\uffff]/g) ?? [], file).toEqual([]);
      expect(typeof new Script(source, { filename: file }).runInThisContext(), file).toBe(
        'function',
      );
    }
  });

  test('a process started with other flags (V8 rejects a cache made under some) keeps a file of its own', () => {
    const dir = join(tempDir(), 'cache');
    run(dir);
    const flagged = run(dir, { flags: ['--expose-gc'] });
    expect(flagged.result).toBe('49');
    expect(flagged.lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^pool run without \(no .*\/pool-\w+-v[\d.]+-\w+-f[0-9a-f]{8}\.bin\)$/,
        ),
        expect.stringMatching(
          /^worker run without \(no .*\/worker-\w+-v[\d.]+-\w+-f[0-9a-f]{8}\.bin\)$/,
        ),
      ]),
    );
    expect(caches(dir)).toHaveLength(4);
    // Each kind of process then runs with its own, and writes nothing.
    for (const flags of [[], ['--expose-gc']]) {
      const { lines } = run(dir, { flags });
      expect(lines.filter((l) => /^(pool|worker) run with /.test(l))).toHaveLength(2);
      expect(lines.filter((l) => l.startsWith('wrote '))).toEqual([]);
    }
  });

  test("a write removes its bundle's files beyond KEEP_PER_BUNDLE, oldest first, and temporary files left by dead writers", () => {
    const dir = join(tempDir(), 'cache');
    mkdirSync(dir, { mode: 0o700 });
    const hour = 3_600_000;
    // Files of other builds and flag sets, one to KEEP_PER_BUNDLE + 1 hours old.
    const put = (name: string, ageMs: number): void => {
      writeFileSync(join(dir, name), 'old');
      const at = (Date.now() - ageMs) / 1000;
      utimesSync(join(dir, name), at, at);
    };
    for (const bundle of ['pool', 'worker']) {
      for (let age = 1; age <= KEEP_PER_BUNDLE + 1; age++) {
        put(`${bundle}-${String(age).padStart(16, '0')}-v0.0.${age}-x64.bin`, age * hour);
      }
    }
    put('pool-0000000000000001-v0.0.1-x64.bin.123.tmp', ORPHAN_TEMP_MS + 60_000);
    put('worker-0000000000000001-v0.0.1-x64.bin.456.tmp', 0); // a write under way
    put('notes.txt', 100 * hour);

    const { lines, result } = run(dir);
    expect(result).toBe('49');
    const left = caches(dir);
    for (const bundle of ['pool', 'worker']) {
      const files = left.filter((f) => f.startsWith(`${bundle}-`) && f.endsWith('.bin'));
      expect(files).toHaveLength(KEEP_PER_BUNDLE);
      // The one just written, and the newest of the others.
      expect(files.filter((f) => !f.includes('-v0.0.'))).toHaveLength(1);
      for (let age = 1; age < KEEP_PER_BUNDLE; age++) {
        expect(files).toContain(`${bundle}-${String(age).padStart(16, '0')}-v0.0.${age}-x64.bin`);
      }
      const removed = lines.filter((l) => l.startsWith(`removed ${dir}/${bundle}-`));
      expect(removed).toHaveLength(bundle === 'pool' ? 3 : 2);
    }
    expect(left).not.toContain('pool-0000000000000001-v0.0.1-x64.bin.123.tmp');
    expect(left).toContain('worker-0000000000000001-v0.0.1-x64.bin.456.tmp');
    expect(left).toContain('notes.txt');

    // A process that finds its files writes nothing, and so removes nothing.
    const again = run(dir);
    expect(again.lines.filter((l) => /^(wrote|removed) /.test(l))).toEqual([]);
    expect(caches(dir)).toEqual(left);
  });

  test('the flags that name a cache file: their names, in any order, from execArgv and NODE_OPTIONS', () => {
    expect(flagsTag([], undefined)).toBe('');
    expect(flagsTag([], '')).toBe('');
    const gc = flagsTag(['--expose-gc'], undefined);
    expect(gc).toMatch(/^-f[0-9a-f]{8}$/);
    expect(flagsTag([], '--expose-gc')).toBe(gc);
    expect(flagsTag(['--expose_gc'], undefined)).toBe(gc);
    expect(flagsTag(['--inspect=0', '--stack-size=900'], undefined)).toBe(
      flagsTag(['--stack-size=2000'], '--inspect=9229'),
    );
    expect(flagsTag(['--require', '/tmp/a.cjs'], undefined)).toBe(
      flagsTag(['--require', '/tmp/b.cjs'], undefined),
    );
    expect(flagsTag(['--expose-gc', '--trace-gc'], undefined)).not.toBe(gc);
  });

  test('DEADPOOL_CODE_CACHE: unset or empty is a directory of this user in the temporary directory; off, 0, false and no turn it off; anything else is the directory', () => {
    expect(configuredDir(undefined, '/tmp', 1000)).toBe('/tmp/deadpool-code-cache-1000');
    expect(configuredDir('', '/tmp', 0)).toBe('/tmp/deadpool-code-cache-0');
    for (const off of ['off', '0', 'false', 'no', 'OFF'])
      expect(configuredDir(off, '/tmp', 0)).toBe('');
    expect(configuredDir('/var/cache/app', '/tmp', 0)).toBe('/var/cache/app');
  });
});
