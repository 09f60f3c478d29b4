/**
 * Small helpers for the core suite, on top of ./helpers.ts: temporary
 * directories, release files ("gates") that end a blocked task, and ways to
 * wait on a pool's events and a future's pid without sleeping.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { Deadpool, Future } from '../dist/index.js';

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

interface PoolEvents {
  workerStart: { pid: number };
  workerExit: WorkerExitEvent;
  taskTimeout: TaskTimeoutEvent;
}

/** Every payload of `event` the pool emits from now on, in order. */
export function record<E extends keyof PoolEvents>(pool: Deadpool, event: E): PoolEvents[E][] {
  const seen: PoolEvents[E][] = [];
  pool.on(event, ((payload: PoolEvents[E]) => void seen.push(payload)) as never);
  return seen;
}

/** The next `event` whose payload satisfies `match`; rejects after `timeoutMs`. */
export function nextEvent<E extends keyof PoolEvents>(
  pool: Deadpool,
  event: E,
  match: (payload: PoolEvents[E]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<PoolEvents[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pool.off(event, listener as never);
      reject(new Error(`no matching '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (payload: PoolEvents[E]): void => {
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
  throw new Error(`expected a rejection, got the value ${String(value)}`);
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

/** Lets pending callbacks, microtasks and a few timer turns run. */
export async function settleTurns(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setTimeout(resolve, 10));
}
