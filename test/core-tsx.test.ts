/**
 * Code rewritten by tools must still run as a function task (docs/api.md "Tasks"): tsx
 * (esbuild keepNames) wraps named functions in `__name(...)`, which exists only
 * in the submitting process; the worker shims it. Vitest's own rewriting of
 * `import()` is covered by the function tasks in core-submit.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

const run = promisify(execFile);

test('a function task compiled by tsx, with __name calls injected, runs in the worker', async () => {
  const script = fileURLToPath(new URL('./fixtures/tsx/submit-function.ts', import.meta.url));
  const { stdout } = await run(process.execPath, ['--import', 'tsx', script], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    timeout: 20_000,
  });
  const line = stdout.trim().split('\n').at(-1)!;
  // The rewrite really happened, so this test cannot pass without the shim.
  expect(JSON.parse(line)).toEqual({ result: 1010, injected: true });
});
