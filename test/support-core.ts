/**
 * Small helpers for the core suite, on top of ./helpers.ts: temporary
 * directories, release files ("gates") that end a blocked task, and ways to
 * wait on a pool's events and a future's pid without sleeping.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed after the current test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'deadpool-core-'));
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

export interface WorkerExitEvent {
  pid: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  reason: string;
}

export interface TaskTimeoutEvent {
  pid: number;
  name: string | undefined;
  soft: boolean;
}

export { nextEvent, record, rejection, started, within } from './helpers.js';

/** Lets pending callbacks, microtasks and a few timer turns run. */
export async function settleTurns(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setTimeout(resolve, 10));
}
