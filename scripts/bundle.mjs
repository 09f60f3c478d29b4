// `npm run build`, after tsc: bundles each entry point into one file.
//
// - The worker's entry (dist/child/main.js and every module of ours it
//   imports) becomes dist/child/worker.js, which the pool forks.
// - `deadpool/task` (dist/task-module.js), which every task module made with
//   defineTask() imports, is bundled in place: a worker's first task paid for
//   its six modules (3.2 → 1.2 ms to import, Node 26, docs/performance.md).
// - `deadpool` and `deadpool/bullmq` (dist/index.js, dist/bullmq/index.js)
//   are bundled in place, sharing one chunk (dist/parent/chunk-*.js) so that
//   both see the same classes: importing `deadpool` loaded ~60 modules
//   (~45 → ~20 ms, Node 26, docs/performance.md). The chunk sits in
//   dist/parent/ like the module it replaces, so the worker's entry is still
//   `../child/worker.js` from it (checked below).
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
// Node's own modules are taken with process.getBuiltinModule() (Node >=
// 20.16), not imported: an ES module import of a built-in builds its ES
// module facade, which reads every export, and node:fs's lazy ones load
// streams, fs/promises, readline and the REPL's history. A worker's start
// paid ~1.2 ms of CPU for that (perf stat task-clock of the bundled entry,
// Node 26; more under IPC, docs/performance.md).
import { build } from 'esbuild';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

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

await build({
  ...common,
  entryPoints: [`${dist}child/main.js`],
  outfile: `${dist}child/worker.js`,
});
takeBuiltins(`${dist}child/worker.js`);

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
    /new URL\("([^"]+)", import\.meta\.url\)/g,
  )) {
    if (!existsSync(new URL(rel, pathToFileURL(resolve(out))))) {
      throw new Error(`${out}: new URL("${rel}", import.meta.url) names no file`);
    }
  }
}
