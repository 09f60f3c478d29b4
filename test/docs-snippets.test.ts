/**
 * Every code block of the documentation runs, or is a fragment on purpose
 * (CONTRIBUTING.md, "Code blocks in the documentation"). Each page gets a
 * scratch project in which `deadpool` and `deadpool-executor` are symlinks to
 * this repository, so the blocks import the BUILT package as a user would.
 * TypeScript blocks are type-checked together with tsc under strict, then run
 * with the repository's tsx; JavaScript blocks run with plain node. Each run
 * carries a tag in its environment, which its workers inherit, so the test can
 * prove that nothing a block started outlives it.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from './helpers/events.js';
import {
  anchors,
  extractSnippets,
  npmScripts,
  relativeLinks,
  type Snippet,
} from './helpers/snippets.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
const RUN_TIMEOUT_MS = 30_000;
/** Pages other branches are writing; linked from the README before they land. */
const PENDING_PAGES = new Set(['docs/containment.md', 'docs/operating.md']);

const pages = [
  'README.md',
  'ARCHITECTURE.md',
  'CONTRIBUTING.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];
const markdown = new Map(pages.map((page) => [page, readFileSync(join(root, page), 'utf8')]));
const snippets = pages.flatMap((page) => extractSnippets(page, markdown.get(page)!));
const code = snippets.filter((s) => s.kind === 'js' || s.kind === 'ts');
const fragments = code.filter((s) => s.fragment !== undefined);
const runnable = code.filter((s) => s.run);
const tooNew = runnable.filter((s) => (s.minNode ?? 0) > NODE_MAJOR);
const runHere = runnable.filter((s) => (s.minNode ?? 0) <= NODE_MAJOR);
const where = (s: Snippet): string => `${s.page}:${s.line} (${s.file})`;

/** The blocks that ran and passed, in order. */
const ran: string[] = [];
let scratch = '';
const pageDir = (page: string): string => join(scratch, page.replace(/[/.]/g, '_'));

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'deadpool-docs-'));
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  mkdirSync(join(scratch, 'node_modules'));
  for (const name of ['deadpool', 'deadpool-executor']) {
    symlinkSync(root, join(scratch, 'node_modules', name), 'dir');
  }
  for (const page of pages) mkdirSync(pageDir(page));
  // Every block that is code and not a fragment, written where its page's runs find it.
  for (const s of code.filter((s) => s.fragment === undefined)) {
    const path = join(pageDir(s.page), s.file);
    if (existsSync(path)) throw new Error(`${where(s)}: ${s.file} is defined twice on the page`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, s.code);
  }
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('the documentation conventions', () => {
  test('the extractor reads files, runs, Node lines and fragments', () => {
    const page = [
      '```ts',
      '// file: tasks.ts',
      'export {};',
      '```',
      '<!-- fragment: needs Redis -->',
      '```js',
      'connect();',
      '```',
      '- item',
      '  ```js',
      '  // node >= 24',
      '  await using x = y;',
      '  ```',
      '```sh',
      'npm ci && npm run example && npm test',
      '```',
    ].join('\n');
    const [file, fragment, indented, shell] = extractSnippets('x.md', page);
    expect(file).toMatchObject({ kind: 'ts', file: 'tasks.ts', run: false, line: 1 });
    expect(fragment).toMatchObject({ kind: 'js', run: false, fragment: 'needs Redis' });
    expect(indented).toMatchObject({
      run: true,
      minNode: 24,
      code: '// node >= 24\nawait using x = y;\n',
    });
    expect(npmScripts(shell!.code)).toEqual(['example', 'test']);
    expect(anchors('## Tasks: three forms\n### `submit(fn, args?)` → `Future<T>`\n')).toEqual(
      new Set(['tasks-three-forms', 'submitfn-args--futuret']),
    );
  });

  test('every npm script a shell block names exists in package.json', () => {
    const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const named = snippets
      .filter((s) => s.kind === 'shell')
      .flatMap((s) => npmScripts(s.code).map((name) => ({ at: where(s), name })));
    expect(named.map(({ name }) => name)).toContain('test');
    expect(named.filter(({ name }) => !(name in scripts))).toEqual([]);
  });

  test('every relative link points to a file, and a heading, that exist', () => {
    const broken = pages.flatMap((page) =>
      relativeLinks(markdown.get(page)!).flatMap(({ path, anchor }) => {
        const target = path === '' ? page : join(dirname(page), path);
        const link = `${page} → ${path}${anchor ? `#${anchor}` : ''}`;
        if (PENDING_PAGES.has(target)) return [];
        if (!existsSync(join(root, target))) return [link];
        if (!anchor || !target.endsWith('.md')) return [];
        return anchors(readFileSync(join(root, target), 'utf8')).has(anchor) ? [] : [link];
      }),
    );
    expect(broken).toEqual([]);
  });

  test('every fragment says why it cannot run', () => {
    console.log(
      `${fragments.length} fragments:\n` +
        fragments.map((s) => `  ${s.page}:${s.line}: ${s.fragment}`).join('\n'),
    );
    expect(fragments.filter((s) => s.fragment === '(no reason given)').map(where)).toEqual([]);
  });

  test(`lists the blocks that need a newer Node than this one (${NODE_MAJOR})`, () => {
    if (tooNew.length > 0) {
      console.log(
        `not run on Node ${NODE_MAJOR} (they need a newer line):\n` +
          tooNew.map((s) => `  ${where(s)}: node >= ${s.minNode}`).join('\n'),
      );
    }
    expect(tooNew.every((s) => s.minNode! > NODE_MAJOR)).toBe(true);
    expect(runHere.length + tooNew.length).toBe(runnable.length);
    expect(runHere.some((s) => s.page === 'README.md')).toBe(true);
  });
});

describe('TypeScript blocks', () => {
  test('type-check together under strict', { timeout: 120_000 }, async () => {
    const tsconfig = {
      compilerOptions: {
        target: 'ES2023',
        lib: ['ES2023', 'ESNext.Disposable'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        isolatedModules: true,
        skipLibCheck: true,
        noEmit: true,
        types: ['node'],
        typeRoots: [join(root, 'node_modules/@types')],
      },
      include: ['**/*.ts'],
      exclude: ['node_modules'],
    };
    writeFileSync(join(scratch, 'tsconfig.json'), JSON.stringify(tsconfig));
    expect(code.some((s) => s.kind === 'ts' && s.fragment === undefined)).toBe(true);
    const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin/tsc');
    const { status, output } = await execute([tsc, '-p', scratch], scratch, {}, 110_000);
    expect(output, 'tsc over the TypeScript blocks').toBe('');
    expect(status).toBe(0);
  });
});

describe.each(runHere.map((s) => [where(s), s] as const))('%s', (_, snippet) => {
  test(
    'runs to completion and leaves no process behind',
    { timeout: RUN_TIMEOUT_MS + 15_000 },
    async () => {
      const tag = randomUUID();
      const loader =
        snippet.kind === 'ts' ? ['--import', pathToFileURL(require.resolve('tsx')).href] : [];
      const cwd = pageDir(snippet.page);
      const { status, output } = await execute(
        [...loader, join(cwd, snippet.file)],
        cwd,
        { DEADPOOL_DOCS_SNIPPET: tag },
        RUN_TIMEOUT_MS,
      );
      const left = await leftovers(tag);
      expect(status, output).toBe(0);
      expect(left, 'processes the block left behind').toEqual([]);
      ran.push(where(snippet));
    },
  );
});

describe('on this Node', () => {
  test('every runnable block it supports ran and passed', () => {
    expect(ran).toEqual(runHere.map(where));
    console.log(
      `ran ${ran.length} blocks on Node ${process.versions.node}; ${tooNew.length} need a newer line`,
    );
  });
});

/** Runs node with `args`; resolves with its exit status and its stdout and stderr together. */
function execute(
  args: string[],
  cwd: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ status: number | string; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    // The child is ours and alive until 'exit': killing it on time cannot hit a stranger.
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ status: code ?? signal ?? 'unknown', output });
    });
  });
}

/**
 * Processes carrying `tag` in their environment, once those exiting by
 * themselves have had 5 s to go; any still there are SIGKILLed (each checked
 * again right before, so a reused pid is never hit) and returned.
 */
async function leftovers(tag: string): Promise<number[]> {
  const marker = `DEADPOOL_DOCS_SNIPPET=${tag}`;
  const tagged = (): number[] =>
    readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map(Number)
      .filter((pid) => carries(pid, marker));
  const gone = await waitFor(() => tagged().length === 0, { timeoutMs: 5_000 }).catch(() => false);
  if (gone) return [];
  const left = tagged();
  for (const pid of left) {
    if (!carries(pid, marker)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone in between
    }
  }
  return left;
}

/** Whether `pid` is a live process (not a zombie) whose environment holds `marker`. */
function carries(pid: number, marker: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(marker);
  } catch {
    return false;
  }
}
