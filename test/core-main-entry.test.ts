/**
 * The pool's entry points (docs/performance.md, cold start): `npm run build`
 * bundles `deadpool` and `deadpool/bullmq` into one shared chunk, so that
 * importing `deadpool` loads one module of ours instead of ~60, and no ES
 * module facade of Node's own (scripts/bundle.mjs).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect, test } from 'vitest';
import { tempDir } from './helpers/index.js';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));

/** The specifiers a built file imports or re-exports from. */
function importsOf(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(/^(?:import|export)\s[^;]*?from\s+"([^"]+)";$/gm)].map((m) => m[1]!);
}

test('deadpool and deadpool/bullmq import one shared chunk of ours, which imports no module of ours or of Node, nor p-queue (loaded when a task first waits)', () => {
  const chunks = readdirSync(`${dist}parent`).filter((f) => /^chunk-\w+\.js$/.test(f));
  expect(chunks).toHaveLength(1);
  expect(importsOf(`${dist}index.js`)).toEqual([`./parent/${chunks[0]}`]);
  expect(importsOf(`${dist}bullmq/index.js`).filter((s) => s.startsWith('.'))).toEqual([
    `../parent/${chunks[0]}`,
  ]);
  const fromChunk = importsOf(`${dist}parent/${chunks[0]}`);
  expect(fromChunk.filter((s) => s.startsWith('.') || s.startsWith('node:'))).toEqual([]);
  expect(fromChunk).not.toContain('p-queue');
});

test('with require() of ES modules turned off, p-queue is imported at load and tasks that wait for a worker run', () => {
  const tasks = new URL('./fixtures/core/tasks.mjs', import.meta.url).href;
  const script = `
    const { Deadpool } = await import(${JSON.stringify(pathToFileURL(`${dist}index.js`).href)});
    const { square } = await import(${JSON.stringify(tasks)});
    const pool = new Deadpool({ maxWorkers: 1, containment: 'process-group' });
    // Three at once on one worker: two of them wait for it, in p-queue's slots.
    const results = await Promise.all([1, 2, 3].map((n) => pool.submit(square, [n])));
    await pool.shutdown();
    console.log(results.join(','));`;
  // A file, not `-e`: the workers inherit the flags (execArgv), and would run an `-e` script too.
  const file = join(tempDir(), 'no-require-esm.mjs');
  writeFileSync(file, script);
  const out = execFileSync(process.execPath, ['--no-experimental-require-module', file], {
    encoding: 'utf8',
    // A hung script is killed, its pool's workers with it (the sentinel).
    timeout: 20_000,
    killSignal: 'SIGKILL',
  });
  expect(out.trim()).toBe('1,4,9');
});

test('importing deadpool loads none of Node’s modules it does not use (fs/promises, readline, worker_threads)', () => {
  // An empty module first: Node's ES module loader loads some of these itself
  // for its first file (Node 20: fs/promises).
  const empty = join(tempDir(), 'empty.mjs');
  writeFileSync(empty, '');
  const script = `
    await import(${JSON.stringify(pathToFileURL(empty).href)});
    const before = new Set(process.moduleLoadList);
    await import(${JSON.stringify(`${dist}index.js`)});
    console.log(JSON.stringify(process.moduleLoadList.filter((m) => !before.has(m))));`;
  const loaded = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
      killSignal: 'SIGKILL',
    }),
  ) as string[];
  expect(loaded).toContain('NativeModule child_process'); // it did load the pool
  const unused = [
    'internal/fs/promises',
    'internal/fs/streams',
    'internal/repl/history',
    'worker_threads',
    'internal/util/parse_args/parse_args',
  ];
  expect(loaded.filter((m) => unused.some((name) => m === `NativeModule ${name}`))).toEqual([]);
});
