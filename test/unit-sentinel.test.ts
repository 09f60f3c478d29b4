/**
 * The pool's sentinel (src/parent/containment/sentinel.ts) on its own, and the
 * worker's side of the fallback: where no sentinel can run, a worker starts
 * its watchdog thread at boot, or when the pool tells it to. What happens when
 * a pool's process dies is in faults-parent-death and containment-parent-death.
 */
import { fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Socket } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { Sentinel } from '../src/parent/containment/sentinel.js';
import { isAlive, killChild, startTime, turn, waitFor, within } from './helpers/index.js';

const entry = fileURLToPath(new URL('../dist/child/worker.cjs', import.meta.url));

describe('Sentinel', () => {
  test('where the shell cannot be started, it says so, and workers are to guard themselves', async () => {
    let lost = 0;
    // It exists but cannot be executed: the spawn fails.
    const sentinel = new Sentinel(() => lost++, fileURLToPath(import.meta.url));
    expect(sentinel.failed).toBe(false);
    sentinel.ensure();
    await waitFor(() => sentinel.failed, { what: 'the failed start to be seen' });
    expect(lost).toBe(1);
    expect(sentinel.pid).toBeUndefined();
    await sentinel.stop();
  });

  test('without a shell at all it never starts', async () => {
    let lost = 0;
    const sentinel = new Sentinel(() => lost++, undefined);
    expect(sentinel.failed).toBe(true);
    sentinel.ensure();
    await turn();
    expect(sentinel.pid).toBeUndefined();
    expect(lost).toBe(0); // nothing was lost: workers boot with their watchdog
  });

  test('stopped, it exits and kills nothing it watched', async () => {
    const sentinel = new Sentinel(() => {}, '/bin/sh');
    const sleeper = spawn('sleep', ['1000'], { stdio: 'ignore', detached: true });
    try {
      sentinel.watch({ pid: sleeper.pid!, start: startTime(sleeper.pid!)! });
      sentinel.ensure();
      const pid = await waitFor(() => sentinel.pid, { what: 'the sentinel to start' });
      await within(sentinel.stop(), 2_000, 'the sentinel to exit');
      expect(isAlive(pid)).toBe(false);
      expect(isAlive(sleeper.pid!)).toBe(true);
    } finally {
      killChild(sleeper.pid!);
    }
  });

  test('starts knowing the workers it watches: they go with its start, not in a later write the death of the pool could cut short', async () => {
    const sentinel = new Sentinel(() => {}, '/bin/sh');
    const sleeper = spawn('sleep', ['1000'], { stdio: 'ignore', detached: true });
    try {
      const start = startTime(sleeper.pid!)!;
      sentinel.watch({ pid: sleeper.pid!, start });
      sentinel.ensure();
      const pid = await waitFor(() => sentinel.pid, { what: 'the sentinel to start' });
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      expect(environ).toContain(`DEADPOOL_SENTINEL_WORKERS=${sleeper.pid}:${start}`);
      await sentinel.stop();
    } finally {
      killChild(sleeper.pid!);
    }
  });

  test('hears of exited workers on a later turn, in one write, never after a new worker with the same pid', async () => {
    const sentinel = new Sentinel(() => {}, '/bin/sh');
    sentinel.ensure();
    await waitFor(() => sentinel.pid, { what: 'the sentinel to start' });
    // Made-up pids: nothing is signalled unless the pool's process dies.
    for (const pid of [1_000_001, 1_000_002, 1_000_003]) sentinel.watch({ pid, start: 1 });
    const write = vi.spyOn(Socket.prototype, 'write');
    // What went to the sentinel's pipe (this process's other sockets write other things).
    const lines = (): string[] =>
      write.mock.calls.map(([chunk]) => String(chunk)).filter((text) => /^[-+]1000/.test(text));
    try {
      sentinel.forget(1_000_001);
      sentinel.forget(1_000_002);
      expect(lines()).toEqual([]);
      await turn();
      expect(lines()).toEqual(['-1000001\n-1000002\n']);
      write.mockClear();
      // The pid comes back before the line went: the old process's line first.
      sentinel.forget(1_000_003);
      sentinel.watch({ pid: 1_000_003, start: 2 });
      await turn();
      expect(lines()).toEqual(['-1000003\n', '+1000003:2\n']);
    } finally {
      write.mockRestore();
      await sentinel.stop();
    }
  });

  test('one that dies is started again', async () => {
    const sentinel = new Sentinel(() => {}, '/bin/sh');
    sentinel.ensure();
    const first = await waitFor(() => sentinel.pid, { what: 'the sentinel to start' });
    expect(killChild(first)).toBe(true);
    const second = await waitFor(() => (sentinel.pid !== first ? sentinel.pid : undefined), {
      what: 'another sentinel',
    });
    expect(second).not.toBe(first);
    await sentinel.stop();
    expect(isAlive(second)).toBe(false);
  });
});

describe("the worker's watchdog thread, where no sentinel guards it", () => {
  // Booted with a parent pid that is not its parent's, a worker's watchdog
  // thread takes the pool's process for dead and kills the worker within its
  // 100 ms poll; the worker's main thread, idle, only looks when its channel
  // closes. So a worker that dies by itself runs a watchdog.

  /** Fork the worker entry the way the pool does, and wait for it to be ready. */
  async function worker(boot: object): Promise<number> {
    const child = fork(entry, [JSON.stringify({ cwd: process.cwd(), parentPid: 1, ...boot })], {
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = new Promise((resolve) =>
      child.on('message', (m: { t: string }) => m.t === 'ready' && resolve(m)),
    );
    child.send({ t: 'init', spec: undefined, args: [] });
    await within(ready, 10_000, 'the worker to be ready');
    children.set(child.pid!, child);
    return child.pid!;
  }
  const children = new Map<number, ReturnType<typeof fork>>();
  afterEach(() => {
    for (const pid of children.keys()) killChild(pid);
    children.clear();
  });

  test('a worker booted with watchdog: true runs one; one booted without does not', async () => {
    const plain = await worker({});
    const guarded = await worker({ watchdog: true });
    await waitFor(() => !isAlive(guarded), { what: 'the guarded worker to kill itself' });
    expect(isAlive(plain)).toBe(true);
  });

  test("a worker told by the pool (message 'watchdog') starts one", async () => {
    const plain = await worker({});
    const told = await worker({});
    children.get(told)!.send({ t: 'watchdog' });
    await waitFor(() => !isAlive(told), { what: 'the told worker to kill itself' });
    expect(isAlive(plain)).toBe(true);
  });
});
