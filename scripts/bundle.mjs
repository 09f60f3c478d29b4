// `npm run build`, after tsc: bundles what a worker loads into one file each.
//
// - The worker's entry (dist/child/main.js and every module of ours it
//   imports) becomes dist/child/worker.js, which the pool forks.
// - `deadpool/task` (dist/task-module.js), which every task module made with
//   defineTask() imports, is bundled in place: a worker's first task paid for
//   its six modules (3.2 → 1.2 ms to import, Node 26, docs/performance.md).
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
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));

/**
 * Rewrite the bundle's `import { a, b as c } from "node:x";` lines (esbuild
 * writes one line per module) into `const { a, b: c } =
 * process.getBuiltinModule("node:x");`, one line for one, so the source map
 * stays right. A form it does not know fails the build.
 */
function takeBuiltins(file) {
  const source = readFileSync(file, 'utf8');
  const out = source.replace(/^import (.+) from "(node:[^"]+)";$/gm, (line, clause, id) => {
    const take = `process.getBuiltinModule(${JSON.stringify(id)})`;
    const named = /^\{ (.+) \}$/.exec(clause);
    if (named) {
      const names = named[1].split(', ').map((n) => n.replace(/^(\w+) as (\w+)$/, '$1: $2'));
      return `const { ${names.join(', ')} } = ${take};`;
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
