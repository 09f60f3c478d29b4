/**
 * Temporary files: directories removed after each test, gate files that end a
 * blocked task, and marker files written by fixtures.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * Waits for the JSON file at `path` to hold a whole value, and parses it. A
 * task writes it with writeFileSync, which creates the file empty before
 * writing: the file can exist, empty, for a moment (a CI run read it so).
 */
export async function readJson<T>(
  path: string,
  { timeoutMs = 10_000, what = `JSON file ${path}` } = {},
): Promise<T> {
  return waitFor(
    () => {
      try {
        return JSON.parse(readFileSync(path, 'utf8')) as T;
      } catch {
        return undefined; // not there yet, or not written out yet
      }
    },
    { timeoutMs, what },
  );
}

/** Waits for the marker file at `path` and parses it. */
export async function readMarker(path: string, timeoutMs = 10_000): Promise<TreeMarker> {
  return readJson<TreeMarker>(path, { timeoutMs, what: `marker file ${path}` });
}
