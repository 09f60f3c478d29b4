/**
 * The pool's sentinel (src/parent/containment/sentinel.ts) on its own, and the
 * worker's side of the fallback: where no sentinel can run, a worker starts
 * its watchdog thread at boot, or when the pool tells it to. What happens when
 * a pool's process dies is in faults-parent-death and containment-parent-death.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Socket } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { Sentinel } from '../src/parent/containment/sentinel.js';
import { SENTINEL_SCRIPT } from '../src/parent/containment/sentinel-script.js';
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

  test('after its walk of /proc it kills nothing whose pid went to another process meanwhile', async () => {
    // The walk can take a while (docs/containment.md): here it is slowed
    // down for sure, the sentinel in a CPU cgroup of 0.5 % of a CPU, and
    // held still while the worker it stopped dies and its pid goes to a
    // stranger. The sentinel's final SIGKILLs must miss the stranger.
    const cpu = `/sys/fs/cgroup/cpu/deadpool-test-sentinel-${process.pid}`;
    mkdirSync(cpu);
    try {
      writeFileSync(`${cpu}/cpu.cfs_period_us`, '200000');
      // Another fork on a busy machine can take the freed pid before the
      // stranger: then the round is run again, with another worker.
      let survived: boolean | undefined;
      for (let round = 0; round < 5 && survived === undefined; round++) {
        survived = await strangerSurvivesSentinel(cpu);
      }
      expect(survived).toBe(true);
    } finally {
      await waitFor(() => removed(cpu), { what: 'the test CPU cgroup to go' });
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

/**
 * One round of the test above: whether the stranger given the stopped
 * worker's pid is alive once the sentinel is done; undefined when another
 * process took the pid first (nothing was learnt).
 */
async function strangerSurvivesSentinel(cpu: string): Promise<boolean | undefined> {
  let sentinel: ChildProcess | undefined;
  let stranger: ChildProcess | undefined;
  const worker = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' });
  try {
    writeFileSync(`${cpu}/cpu.cfs_quota_us`, '1000');
    const start = startTime(worker.pid!)!;
    sentinel = spawn('/bin/sh', ['-c', SENTINEL_SCRIPT, 'deadpool-sentinel', ''], {
      env: { ...process.env, DEADPOOL_SENTINEL_WORKERS: `${worker.pid}:${start}` },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const sentinelExit = new Promise((resolve) => sentinel!.once('exit', resolve));
    writeFileSync(`${cpu}/cgroup.procs`, String(sentinel.pid));
    // Its input ends without `stop`: the pool's process is gone.
    sentinel.stdin!.end();
    await waitFor(() => stateOf(worker.pid!) === 'T', {
      what: 'the sentinel to stop the worker',
    });
    process.kill(sentinel.pid!, 'SIGSTOP');
    // Still alive and stopped: the sentinel has not killed it yet.
    expect(stateOf(worker.pid!)).toBe('T');
    const workerExit = new Promise((resolve) => worker.once('exit', resolve));
    process.kill(worker.pid!, 'SIGKILL'); // our own child: reaped by this process only
    await workerExit;
    stranger = spawnWithPid(worker.pid!);
    if (stranger === undefined) return undefined;
    process.kill(sentinel.pid!, 'SIGCONT');
    writeFileSync(`${cpu}/cpu.cfs_quota_us`, '-1');
    await within(sentinelExit, 10_000, 'the sentinel to finish');
    return isAlive(stranger.pid!);
  } finally {
    if (stranger?.exitCode === null && stranger.signalCode === null) stranger.kill('SIGKILL');
    if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    if (sentinel?.exitCode === null && sentinel.signalCode === null) {
      const exited = new Promise((resolve) => sentinel!.once('exit', resolve));
      sentinel.kill('SIGKILL');
      await exited;
    }
  }
}

/** The state letter of `pid` in /proc (R, S, T, Z, ...), or undefined when it is gone. */
function stateOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/**
 * A `sleep 1000` in a session of its own with exactly `pid`, a pid just
 * freed (the kernel hands out the one after /proc/sys/kernel/ns_last_pid).
 * Another fork on the machine can take it first: then that try is undone
 * and the next one made, until another process holds the pid (undefined).
 */
function spawnWithPid(pid: number): ChildProcess | undefined {
  for (let attempt = 0; attempt < 50; attempt++) {
    writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
    const child = spawn('setsid', ['sleep', '1000'], { stdio: 'ignore' });
    if (child.pid === pid) return child;
    child.kill('SIGKILL');
    if (startTime(pid) !== undefined) return undefined; // someone else's process has it now
  }
  return undefined;
}

/** Remove a cgroup directory; false while a process is still in it. */
function removed(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
