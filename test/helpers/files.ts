/**
 * Temporary files: directories removed after each test, gate files that end a
 * blocked task, and marker files written by fixtures.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { waitFor } from './events.js';

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed after the current test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'deadpool-test-'));
  dirs.push(dir);
  return dir;
}

/** A file path a `block` task waits for; `open()` creates it and so ends the task. */
export interface Gate {
  readonly path: string;
  open(): void;
}

let gateCount = 0;

/** A new, closed gate in `dir` (a fresh temporary directory by default). */
export function gate(dir: string = tempDir()): Gate {
  const path = join(dir, `gate-${++gateCount}`);
  return { path, open: () => writeFileSync(path, '') };
}

/** What a `tree.mjs` task writes once its grandchildren run. */
export interface TreeMarker {
  pid: number;
  grandchildren: number[];
  /** Each grandchild's pid and start time (the BullMQ `tree` task puts the worker's first). */
  identities: { pid: number; start: number }[];
}

/** Waits for the marker file at `path` and parses it. */
export async function readMarker(path: string, timeoutMs = 10_000): Promise<TreeMarker> {
  await waitFor(() => existsSync(path), { timeoutMs, what: `marker file ${path}` });
  return JSON.parse(readFileSync(path, 'utf8')) as TreeMarker;
}
