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
import type { Deadpool, DeadpoolEvents, Future } from '../dist/index.js';
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

type Payload<E extends keyof DeadpoolEvents> = DeadpoolEvents[E][0];

/** Every payload of `event` the pool emits from now on, in order. */
export function record<E extends keyof DeadpoolEvents>(pool: Deadpool, event: E): Payload<E>[] {
  const seen: Payload<E>[] = [];
  const listener = (payload: Payload<E>): void => void seen.push(payload);
  pool.on(event, listener as never);
  return seen;
}

/** The next `event` whose payload satisfies `match`; rejects after `timeoutMs`. */
export function nextEvent<E extends keyof DeadpoolEvents>(
  pool: Deadpool,
  event: E,
  match: (payload: Payload<E>) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<Payload<E>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pool.off(event, listener as never);
      reject(new Error(`no matching '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (payload: Payload<E>): void => {
      if (!match(payload)) return;
      clearTimeout(timer);
      pool.off(event, listener as never);
      resolve(payload);
    };
    pool.on(event, listener as never);
  });
}

/** Resolves with the worker pid once `future` runs on a worker (its pid callback). */
export function started(future: Future<unknown>): Promise<number> {
  return new Promise((resolve) => {
    future.addPidCallback((f) => resolve(f.pid!));
  });
}

/** The reason `promise` rejects with; fails if it resolves instead. */
export async function rejection(promise: PromiseLike<unknown>): Promise<unknown> {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    return error;
  }
  throw new Error(`expected a rejection, got the value ${JSON.stringify(value)}`);
}

/** Races `promise` against a bounded wait, so a hang fails with a message instead of the test timeout. */
export function within<T>(promise: PromiseLike<T>, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} did not happen within ${timeoutMs} ms`)),
      timeoutMs,
    );
    Promise.resolve(promise).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

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
