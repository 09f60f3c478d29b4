// `npm run build`, after tsc: bundles each entry point into one file.
//
// - The worker's entry (dist/child/main.js and every module of ours it
//   imports) becomes dist/child/worker.vm.cjs, run by dist/child/worker.cjs,
//   which the pool forks.
// - `deadpool/task` (dist/task-module.js), which every task module made with
//   defineTask() imports, is bundled in place: a worker's first task paid for
//   its six modules (3.2 → 1.2 ms to import, Node 26, docs/performance.md).
// - `deadpool` and `deadpool/bullmq` (dist/index.js, dist/bullmq/index.js)
//   are bundled in place, sharing one chunk (dist/parent/chunk-*.js) so that
//   both see the same classes: importing `deadpool` loaded ~60 modules
//   (~45 → ~20 ms, Node 26, docs/performance.md). The chunk sits in
//   dist/parent/ like the module it replaces, so the worker's entry is still
//   `../child/worker.cjs` from it (checked below).
//
// Each ES module costs a Node process resolution, a read, a compile and a
// link, about 0.5 ms of CPU apiece, on every worker start (bench/README.md,
// "cold-breakdown"). A copy of our shared modules inside each bundle is
// harmless: what they share across copies is keyed by Symbol.for()
// (src/shared/task.ts). TypeScript cannot emit a single ES module, hence
// esbuild (already installed with tsx and vite). Our runtime dependencies
// stay imports. The source maps follow tsc's maps back to src/; the
// declaration files are tsc's.
//
// Then the worker's bundle and the pool's shared chunk each become a script
// body (`*.vm.cjs`) and a small loader that runs the body through
// src/shared/code-cache.ts with a V8 code cache: for the pool, an ES module
// in the bundle's place; for the worker, a CommonJS script (worker.cjs):
// Node runs it 0.3-0.6 ms sooner after its boot than an ES module entry on
// Node 24 and 26, 2 ms on Node 22, so a worker is ready sooner. A task from
// an ES module starts about when it did: the ES module loader is then set
// up at its import instead (docs/performance.md). The code
// V8 compiled in an earlier process is not parsed nor compiled again
// (docs/performance.md, "Code cache"). The body is the bundle with its ES
// module syntax rewritten line for line (its source map stays right):
// `import.meta.url` and `import()` become arguments of the function it
// exports, and its `export { … }` a `return { … }`.
//
// Node's own modules are taken with process.getBuiltinModule() (Node >=
// 20.16), not imported: an ES module import of a built-in builds its ES
// module facade, which reads every export, and node:fs's lazy ones load
// streams, fs/promises, readline and the REPL's history. A worker's start
// paid ~1.2 ms of CPU for that (perf stat task-clock of the bundled entry,
// Node 26; more under IPC, docs/performance.md).
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Script } from 'node:vm';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));

/**
 * Rewrite the bundle's `import { a, b as c } from "node:x";` statements
 * (esbuild writes one per module, over several lines when long) into `const
 * { a, b: c } = process.getBuiltinModule("node:x");`, line for line, so the
 * source map stays right. A form it does not know fails the build.
 */
function takeBuiltins(file) {
  const source = readFileSync(file, 'utf8');
  const out = source.replace(/^import ([^;]+?) from "(node:[^"]+)";$/gm, (line, clause, id) => {
    const take = `process.getBuiltinModule(${JSON.stringify(id)})`;
    const named = /^\{(\s[^{}]+\s)\}$/.exec(clause);
    if (named) {
      const names = named[1].replace(/\b(\w+) as (\w+)\b/g, '$1: $2');
      if (!/^[\s\w:,]+$/.test(names)) throw new Error(`${file}: cannot rewrite \`${line}\``);
      return `const {${names}} = ${take};`;
    }
    if (/^\* as \w+$/.test(clause)) return `const ${clause.slice(5)} = ${take};`;
    if (/^\w+$/.test(clause)) return `const ${clause} = ${take};`;
    throw new Error(`${file}: cannot rewrite \`${line}\``);
  });
  if (/^import .* from "node:/m.test(out)) throw new Error(`${file}: an import of node: is left`);
  writeFileSync(file, out);
}

/**
 * Rewrite the ES module bundle `file` into a script body, `<name>.vm.cjs`
 * beside it, line for line: a script whose value is the bundle as
 * `function (__deadpool_url, __deadpool_import) { … }`, which as a CommonJS
 * module (require(), with source maps on) exports it as `body`. Its `import.meta.url`
 * is `__deadpool_url` already (`define`, below), its `import()` calls go
 * through src/shared/dynamic-import.ts, and its `export { … }` becomes a
 * `return { … }`. Returns the body's hash (which names its cache file) and
 * the names it exports. A body that does not compile (ES module syntax
 * left) fails the build.
 */
function toScriptBody(file) {
  let code = readFileSync(file, 'utf8');
  const exported = [];
  code = code.replace(
    /^export \{([^}]*)\};$/m,
    (_, list) =>
      `return {${list.replace(/([\w$]+)(?: as ([\w$]+))?/g, (_, local, as) => {
        exported.push(as ?? local);
        return as ? `${as}: ${local}` : local;
      })}};`,
  );
  const name = basename(file, '.js');
  code = code.replace(/^\/\/# sourceMappingURL=.*$/m, `//# sourceMappingURL=${name}.vm.cjs.map`);
  renameSync(`${file}.map`, `${dirname(file)}/${name}.vm.cjs.map`);
  // The source V8 compiles is the file as read, ASCII only (esbuild escapes
  // strings; comments keep what we wrote): one character of another kind
  // makes V8 hold the whole source in two bytes a character, and a wrapper
  // added at load time makes it copy the source once more. The pool's body
  // read that way took ~0.8 MB of a fresh process's young generation at
  // import, and a worker's start sometimes ran a scavenge for its ~0.17 MB
  // (docs/performance.md).
  code = code.replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  // Run as a script (top-level `this` is the global object), its value is
  // the function; loaded by require(), `this` is `module.exports`.
  const body = `(function (body) { if (this !== globalThis) this.body = body; return body; }).call(this, function (__deadpool_url, __deadpool_import) { "use strict"; ${code}\n});\n`;
  try {
    new Script(body, { filename: file });
  } catch (error) {
    throw new Error(`${file}: its script body does not compile: ${String(error)}`, {
      cause: error,
    });
  }
  writeFileSync(`${dirname(file)}/${name}.vm.cjs`, body);
  const key = createHash('sha256').update(body).digest('hex').slice(0, 16);
  return { key, exported };
}

/**
 * Turn the bundle `file` into its script body and a loader that runs it:
 * an ES module in the bundle's place that exports what the bundle
 * exported or, with `commonJS`, a CommonJS script `<name>.cjs` beside it
 * that exports nothing (the bundle is then removed). `before`: statements
 * to run first.
 */
async function cachedLoader(file, name, { before = '', commonJS = false } = {}) {
  const { key, exported } = toScriptBody(file);
  const body = `./${basename(file, '.js')}.vm.cjs`;
  if (commonJS && exported.length > 0)
    throw new Error(`${file}: a CommonJS loader exports nothing`);
  const url = commonJS ? '__deadpool_entry' : 'import.meta.url';
  const run = `runCached(new URL(${JSON.stringify(body)}, ${url}), ${JSON.stringify(name)}, ${JSON.stringify(key)}, ${url}, (specifier) => import(specifier))`;
  const contents = [
    `// Generated by scripts/bundle.mjs: runs ${body} with a V8 code cache (src/shared/code-cache.ts).`,
    `import { runCached, useCacheDir } from ${JSON.stringify(`${dist}shared/code-cache.js`)};`,
    commonJS ? `const ${url} = require('node:url').pathToFileURL(__filename).href;` : '',
    before,
    exported.length > 0 ? `export const { ${exported.join(', ')} } = ${run};` : `${run};`,
  ].join('\n');
  const out = commonJS ? file.replace(/\.js$/, '.cjs') : file;
  await build({
    ...common,
    format: commonJS ? 'cjs' : 'esm',
    sourcemap: false,
    stdin: { contents, resolveDir: dirname(file), sourcefile: basename(out) },
    outfile: out,
    allowOverwrite: true,
  });
  takeBuiltins(out);
  // Its importer must stay an import(): require() cannot load an ES module
  // task module with top-level await.
  if (!readFileSync(out, 'utf8').includes('(specifier) => import(specifier)')) {
    throw new Error(`${out}: its importer is not an import()`);
  }
  if (out !== file) rmSync(file);
}

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
};

// What becomes a script body (below) takes `import.meta.url` as an argument.
const body = { define: { 'import.meta.url': '__deadpool_url' } };

await build({
  ...common,
  ...body,
  entryPoints: [`${dist}child/main.js`],
  outfile: `${dist}child/worker.js`,
});
takeBuiltins(`${dist}child/worker.js`);
// Its script body and loader (above), before the pool's bundle checks that
// its entry is there. It takes its pool's cache directory from its boot
// settings (argv[2]).
await cachedLoader(`${dist}child/worker.js`, 'worker', {
  before:
    "{ const boot = JSON.parse(process.argv[2] ?? '{}'); if (typeof boot.codeCache === 'string') useCacheDir(boot.codeCache); }",
  commonJS: true,
});

await build({
  ...common,
  entryPoints: [`${dist}task-module.js`],
  outfile: `${dist}task-module.js`,
  allowOverwrite: true,
});
takeBuiltins(`${dist}task-module.js`);

// The pool's own code, shared by `deadpool` and `deadpool/bullmq`.
const pool = await build({
  ...common,
  ...body,
  entryPoints: { index: `${dist}index.js`, 'bullmq/index': `${dist}bullmq/index.js` },
  outdir: dist,
  splitting: true,
  chunkNames: 'parent/[name]-[hash]',
  allowOverwrite: true,
  metafile: true,
});
for (const out of Object.keys(pool.metafile.outputs)) {
  if (!out.endsWith('.js')) continue;
  takeBuiltins(out);
  // Every file it names relative to itself (the worker's entry) is there.
  for (const [, rel] of readFileSync(out, 'utf8').matchAll(
    /new URL\("([^"]+)", __deadpool_url\)/g,
  )) {
    if (!existsSync(new URL(rel, pathToFileURL(resolve(out))))) {
      throw new Error(`${out}: new URL("${rel}", import.meta.url) names no file`);
    }
  }
}

// Last, the pool's bundle becomes its script body and a loader (above).
const chunks = Object.keys(pool.metafile.outputs).filter((out) => /\/chunk-\w+\.js$/.test(out));
if (chunks.length !== 1) throw new Error(`expected one shared chunk, got ${chunks.join(', ')}`);
await cachedLoader(resolve(chunks[0]), 'pool');
