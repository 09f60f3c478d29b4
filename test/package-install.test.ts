/**
 * The package as a user installs it (README, "Install"): `npm pack`, then the
 * tarball installed into a scratch project under the alias users write
 * (`deadpool`, as `npm install deadpool@npm:deadpool-executor` does) and under
 * its own name, and every entry point imported from there: ESM, `require()`
 * of ESM, and the types with this repository's `tsc` (strict). Dependencies
 * come from npm's cache when it has them.
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const ENTRIES = ['', '/task', '/bullmq'];
const NAMES = ['deadpool', 'deadpool-executor'];
/** The version of `name` this repository installed, so npm's cache has it. */
const version = (name: string): string =>
  (
    JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;

let dir: string;
let app: string;

/** `node <args>` in the scratch project; resolves with its stdout. */
async function node(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, args, { cwd: app, timeout: 60_000 });
  return stdout;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deadpool-pack-'));
  app = join(dir, 'app');
  // The built dist/ is packed as it is (the test run builds first); no prepack rebuild.
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], {
    cwd: ROOT,
    timeout: 60_000,
  });
  const tarball = readdirSync(dir).find((name) => name.endsWith('.tgz'));
  if (tarball === undefined) throw new Error(`npm pack wrote no tarball in ${dir}`);
  mkdirSync(app);
  const pkg = {
    name: 'scratch',
    private: true,
    type: 'module',
    dependencies: {
      deadpool: `file:../${tarball}`,
      'deadpool-executor': `file:../${tarball}`,
      // deadpool/bullmq's optional peer, and Node's types for tsc.
      bullmq: version('bullmq'),
      '@types/node': version('@types/node'),
    },
  };
  writeFileSync(join(app, 'package.json'), JSON.stringify(pkg, null, 2));
  await run('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: app,
    timeout: 240_000,
  });
}, 300_000);

test("inside this repository, 'deadpool' is this package, as it is for a user", async () => {
  const script =
    "import * as named from 'deadpool'; import * as task from 'deadpool/task';" +
    "import * as built from './dist/index.js'; import * as builtTask from './dist/task-module.js';" +
    'console.log(named.Deadpool === built.Deadpool && task.defineTask === builtTask.defineTask);';
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
  });
  expect(stdout.trim()).toBe('true');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the packed package, installed', () => {
  test('it is published as deadpool-executor, and the alias installs it under node_modules/deadpool', () => {
    expect(readdirSync(dir).filter((name) => name.endsWith('.tgz'))).toEqual([
      `deadpool-executor-${version('deadpool')}.tgz`,
    ]);
    for (const name of NAMES) {
      const manifest = JSON.parse(
        readFileSync(join(app, 'node_modules', name, 'package.json'), 'utf8'),
      ) as { name: string };
      expect(manifest.name).toBe('deadpool-executor');
    }
  });

  test('every source map and declaration map points to a file the package ships', () => {
    const installed = join(app, 'node_modules', 'deadpool');
    const maps = (readdirSync(join(installed, 'dist'), { recursive: true }) as string[]).filter(
      (file) => file.endsWith('.map'),
    );
    expect(maps.some((file) => file.endsWith('.d.ts.map'))).toBe(true);
    const missing: string[] = [];
    for (const file of maps) {
      const map = JSON.parse(readFileSync(join(installed, 'dist', file), 'utf8')) as {
        sources: string[];
      };
      for (const source of map.sources) {
        const path = join(installed, 'dist', dirname(file), source);
        if (!existsSync(path)) missing.push(`${file} -> ${source}`);
      }
    }
    expect(missing).toEqual([]);
  });

  test('every entry point imports as ESM under both names, with the exports of the build', async () => {
    const specifiers = NAMES.flatMap((name) => ENTRIES.map((entry) => name + entry));
    const script = `const out = {};
for (const s of ${JSON.stringify(specifiers)}) out[s] = Object.keys(await import(s)).sort();
console.log(JSON.stringify(out));`;
    const got = JSON.parse(await node('--input-type=module', '-e', script)) as Record<
      string,
      string[]
    >;
    const built = {
      '': Object.keys(await import('../dist/index.js')).sort(),
      '/task': Object.keys(await import('../dist/task-module.js')).sort(),
      '/bullmq': Object.keys(await import('../dist/bullmq/index.js')).sort(),
    } as Record<string, string[]>;
    for (const name of NAMES) {
      for (const entry of ENTRIES) expect(got[name + entry]).toEqual(built[entry]);
    }
  });

  test('every entry point loads with require() (require of ESM)', async () => {
    const specifiers = NAMES.flatMap((name) => ENTRIES.map((entry) => name + entry));
    writeFileSync(
      join(app, 'require.cjs'),
      `const out = {};
for (const s of ${JSON.stringify(specifiers)}) out[s] = typeof require(s);
console.log(JSON.stringify(out));`,
    );
    const got = JSON.parse(await node('--no-warnings', 'require.cjs')) as Record<string, string>;
    expect(Object.keys(got)).toEqual(specifiers);
    expect(new Set(Object.values(got))).toEqual(new Set(['object']));
  });

  test('a task runs in a worker of the installed package, imported as deadpool', async () => {
    writeFileSync(
      join(app, 'tasks.mjs'),
      "import { defineTask } from 'deadpool/task';\n" +
        "export const add = defineTask(import.meta.url, 'add', (a, b) => a + b);\n",
    );
    writeFileSync(
      join(app, 'main.mjs'),
      "import { Deadpool } from 'deadpool';\nimport { add } from './tasks.mjs';\n" +
        'const pool = new Deadpool({ maxWorkers: 1 });\n' +
        'try { console.log(await pool.submit(add, [2, 3])); } finally { await pool.shutdown(); }\n',
    );
    expect((await node('main.mjs')).trim()).toBe('5');
  });

  test("the types check under strict with this repository's tsc, under both names", async () => {
    writeFileSync(
      join(app, 'consumer.ts'),
      `import { Deadpool, defineTask, type Future } from 'deadpool';
import { DeadpoolQueue } from 'deadpool/bullmq';
import { reportProgress, taskSignal } from 'deadpool/task';
import * as own from 'deadpool-executor';
import * as ownBullmq from 'deadpool-executor/bullmq';
import * as ownTask from 'deadpool-executor/task';

export const add = defineTask(import.meta.url, 'add', (a: number, b: number) => a + b);
const pool = new Deadpool({ maxWorkers: 1 });
const sum: Future<number> = pool.submit(add, [1, 2]);
// @ts-expect-error the arguments are typed, so a string is refused
pool.submit(add, ['1', 2]);
export const used = [sum, DeadpoolQueue, reportProgress, taskSignal, own.Deadpool, ownBullmq.DeadpoolQueue, ownTask.defineTask];
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2023',
          types: ['node'],
          noEmit: true,
          // bullmq's own declarations are not ours to check; imports of ours still resolve.
          skipLibCheck: true,
        },
        files: ['consumer.ts'],
      }),
    );
    const result = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], {
      cwd: app,
      timeout: 120_000,
    }).then(
      () => '',
      (error: Error & { stdout?: string }) => error.stdout || error.message,
    );
    expect(result).toBe('');
  }, 150_000);
});
