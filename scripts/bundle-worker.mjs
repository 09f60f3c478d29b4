// `npm run build`, after tsc: bundles the worker's entry (dist/child/main.js
// and every module of ours it imports) into one file, dist/child/worker.js,
// which is what the pool forks. A worker then loads one module instead of
// ten: each ES module costs a Node process resolution, a read, a compile and
// a link, about 0.5 ms of CPU apiece, on every worker start (bench/README.md,
// "cold-breakdown"). TypeScript cannot emit a single ES module, hence esbuild
// (already installed with tsx and vite). Node's own modules and our runtime
// dependencies stay imports. The source map follows tsc's maps back to src/.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/child/', import.meta.url));

await build({
  entryPoints: [`${dist}main.js`],
  outfile: `${dist}worker.js`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});
