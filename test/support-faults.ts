/**
 * Helpers for the fault suite, on top of ./helpers.ts: temporary directories,
 * marker files written by fixtures, waiting on pool events and pid callbacks,
 * a seeded PRNG, and a way to run a fixture script as a separate parent process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { fixture, isAlive, waitFor } from './helpers.js';

const dirs: string[] = [];
const strays = new Set<number>();

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  // Last resort after the assertions ran: never leave a `sleep 1000` behind for the next test.
  for (const pid of strays) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  strays.clear();
});

/** A fresh temporary directory, removed after the current test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'deadpool-faults-'));
  dirs.push(dir);
  return dir;
}

/**
 * Remember pids that must be SIGKILLed after the test whatever happened, for
 * processes that are not descendants of the test process (orphaned
 * grandchildren, workers of a killed parent). Call it before asserting they are gone.
 */
export function killAfterTest(pids: Iterable<number>): void {
  for (const pid of pids) strays.add(pid);
}

/** What a `tree.mjs` task writes once its grandchildren run. */
export interface TreeMarker {
  pid: number;
  grandchildren: number[];
}

/** Waits for the marker file at `path` and parses it. */
export async function readMarker(path: string, timeoutMs = 10_000): Promise<TreeMarker> {
  await waitFor(() => existsSync(path), { timeoutMs, what: `marker file ${path}` });
  return JSON.parse(readFileSync(path, 'utf8')) as TreeMarker;
}

export type { TaskTimeoutInfo, WorkerExitInfo } from '../dist/index.js';

export { nextEvent, record, rejection, started, within } from './helpers.js';

/** mulberry32: a tiny seeded PRNG giving floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fixture script started as its own `node` process, with its stdout collected. */
export interface Script {
  child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Resolves with the first complete stdout line, parsed as JSON. */
  firstLine<T>(timeoutMs?: number): Promise<T>;
  /** Resolves with `{ code, signal }` when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `node test/fixtures/faults/<name> ...args`. */
export function runScript(name: string, args: string[] = []): Script {
  const path = fileURLToPath(fixture(`faults/${name}`));
  const child = spawn(process.execPath, [path, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    stdout: () => out,
    exited,
    async firstLine<T>(timeoutMs = 15_000): Promise<T> {
      const line = await waitFor(
        () => (out.includes('\n') ? out.slice(0, out.indexOf('\n')) : ''),
        {
          timeoutMs,
          what: `a line on stdout of ${name} (stderr so far: ${JSON.stringify(err.slice(-2000))})`,
        },
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}; stderr: ${err.slice(-2000)}`);
      });
      return JSON.parse(line) as T;
    },
  };
}

/** Pids among `pids` still alive now. */
export function survivors(pids: Iterable<number>): number[] {
  return [...pids].filter(isAlive);
}
