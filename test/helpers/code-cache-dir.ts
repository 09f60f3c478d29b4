/**
 * Vitest global setup: the suite's pools keep their code cache
 * (src/shared/code-cache.ts) in a directory of the run's own, removed at the
 * end, rather than in the user's default one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'deadpool-test-code-cache-'));
  process.env.DEADPOOL_CODE_CACHE = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
