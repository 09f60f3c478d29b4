/**
 * Shared test helpers. Integration tests import the *built* package (dist/),
 * so `npm test` builds first (see the `pretest` script).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { afterEach } from 'vitest';
import { Deadpool, type DeadpoolEvents, type DeadpoolOptions, type Future } from '../dist/index.js';

/** Poll `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 10, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`waitFor: ${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** True while `pid` is a live process (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** True if `pid` exists at all, zombie included. */
export function exists(pid: number): boolean {
  try {
    readFileSync(`/proc/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}

/** Every descendant of `root` (children, grandchildren, ...), from /proc. */
export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(pid);
      children.set(ppid, list);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Wait until none of `pids` is alive; throws naming the survivors. */
export async function expectAllGone(pids: Iterable<number>, timeoutMs = 5_000): Promise<void> {
  const list = [...pids];
  await waitFor(() => list.every((pid) => !isAlive(pid)), {
    timeoutMs,
    what: `processes ${list.filter(isAlive).join(', ')} to exit`,
  }).catch(() => {
    throw new Error(`processes still alive: ${list.filter(isAlive).join(', ')}`);
  });
}

const live = new Set<{ pool: Deadpool; pids: Set<number> }>();

/**
 * Create a pool that is shut down (and proven gone) after the current test,
 * even if the test failed. The returned `pids` set collects every worker pid
 * the pool ever started.
 */
export function makePool(options: DeadpoolOptions = {}): { pool: Deadpool; pids: Set<number> } {
  const pool = new Deadpool(options);
  const pids = new Set<number>();
  pool.on('workerStart', ({ pid }: { pid: number }) => pids.add(pid));
  const entry = { pool, pids };
  live.add(entry);
  return entry;
}

afterEach(async () => {
  const entries = [...live];
  live.clear();
  // Kill whatever still runs (an endless task must not hang the cleanup), then prove it is gone.
  await Promise.all(entries.map(({ pool }) => pool.shutdown({ wait: false, cancelFutures: true })));
  for (const { pids } of entries) await expectAllGone(pids);
  // No child of the test process may outlive its test.
  await waitFor(() => descendantsOf(process.pid).length === 0, {
    timeoutMs: 5_000,
    what: `no descendants of the test process (left: ${descendantsOf(process.pid).join(', ')})`,
  });
});

/** Absolute file: URL of a fixture module. */
export function fixture(name: string): string {
  return new URL(`./fixtures/${name}`, import.meta.url).href;
}

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
