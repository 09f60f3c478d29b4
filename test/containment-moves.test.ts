/**
 * Kernel containment while a worker is being moved into its cgroups: the
 * kernel makes every cgroupfs write wait for the move (an RCU grace period,
 * 5–25 ms here), so the pool writes none on the event loop then
 * (docs/containment.md, "Moves and the event loop"). A live worker killed
 * meanwhile loses its process group at once; its cgroup's kill follows off
 * the event loop. Run against a real child process in real cgroups, with the
 * move in flight stood in for.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, vi } from 'vitest';
import { normalizeOptions } from '../src/parent/options.js';
import { WorkerProcess } from '../src/parent/worker-process.js';
import { identify, isSameProcess } from '../src/shared/kill.js';
import type { ParentMessage, WorkerMessage } from '../src/shared/protocol.js';
import { closeAfterTest, tempDir, waitFor } from './helpers/index.js';

/** Starts `sleep` (in the worker's process group) when told, and reports its pid. */
const WORKER = `
const { spawn } = require('node:child_process');
process.on('message', () => {
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  process.send({ t: 'sleeper', pid: sleeper.pid });
});
setInterval(() => {}, 60_000);
`;

/** SIGKILL is pending for `pid`, or it is a zombie already, or gone. */
function sigkilled(pid: number): boolean {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return true;
  }
  if (/^State:\s+Z/m.test(status)) return true;
  const mask = (name: string): bigint =>
    BigInt(`0x${new RegExp(`^${name}:\\s+(\\w+)`, 'm').exec(status)![1]}`);
  return ((mask('SigPnd') | mask('ShdPnd')) & (1n << 8n)) !== 0n; // SIGKILL is signal 9
}

test("a worker killed while another is being moved in: its process group goes at once, its cgroup's kill off the event loop", async () => {
  const settings = normalizeOptions({ maxWorkers: 1 });
  closeAfterTest(() => settings.containment.close());
  expect(settings.containment.info.kind).toBe('cgroup'); // this host (containment-daemons.test.ts)
  const script = join(tempDir(), 'worker.cjs');
  writeFileSync(script, WORKER);
  let child: ChildProcess | undefined;
  const messages: unknown[] = [];
  const proc = new WorkerProcess(
    settings,
    {
      message: (message: WorkerMessage) => messages.push(message),
      disconnect: () => {},
      error: () => {},
      exit: () => {},
      taskName: () => undefined,
      drainOutput: () => false,
    },
    () => {
      // As the pool forks its workers: a process group of its own.
      child = fork(script, [], { detached: true, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
      return child;
    },
  );
  closeAfterTest(async () => proc.kill());
  await proc.placed; // in its cgroups: the sleeper starts there
  proc.send({ t: 'go' } as unknown as ParentMessage);
  const { pid: sleeper } = (await waitFor(
    () => messages.find((m) => (m as { t: string }).t === 'sleeper'),
    { what: 'the sleeper started' },
  )) as { pid: number };
  const sleeperId = identify(sleeper)!;
  expect(sigkilled(sleeper)).toBe(false);
  // A worker is being moved in: the cgroup's kill goes to libuv's thread
  // pool once the moves are done (here it is held back altogether, as the
  // kernel would hold it).
  const moving = vi.spyOn(settings.containment, 'moving', 'get').mockReturnValue(true);
  const cgroupKill = vi.spyOn(proc.cgroup!, 'kill').mockImplementation(() => {});
  const exited = once(child!, 'exit');
  try {
    proc.kill();
    // Before kill() returned, and so before any future could settle.
    expect(sigkilled(child!.pid!)).toBe(true);
    expect(sigkilled(sleeper)).toBe(true);
    expect(cgroupKill).not.toHaveBeenCalled();
    await settings.containment.whenNoMove();
    await new Promise((resolve) => setImmediate(resolve));
    // Off the event loop, each time (the exit's release may kill what is left too).
    expect(cgroupKill).toHaveBeenCalledWith(true);
    expect(cgroupKill.mock.calls.every(([offLoop]) => offLoop === true)).toBe(true);
  } finally {
    moving.mockRestore();
    cgroupKill.mockRestore();
  }
  await exited;
  await waitFor(() => !isSameProcess(sleeperId), { what: 'the sleeper reaped' });
});

test('a fork that throws releases the cgroups made for it', async () => {
  const settings = normalizeOptions({ maxWorkers: 1 });
  closeAfterTest(() => settings.containment.close());
  expect(settings.containment.info.kind).toBe('cgroup'); // this host (containment-daemons.test.ts)
  const release = vi.spyOn(settings.containment, 'release');
  const hooks = {
    message: () => {},
    disconnect: () => {},
    error: () => {},
    exit: () => {},
    taskName: () => undefined,
    drainOutput: () => false,
  };
  expect(
    () =>
      new WorkerProcess(settings, hooks, () => {
        throw new Error('spawn ENOMEM');
      }),
  ).toThrow('spawn ENOMEM');
  expect(release).toHaveBeenCalledTimes(1);
  const [cgroup] = release.mock.calls[0]!;
  await cgroup.release();
  expect(existsSync(cgroup.dirs.v2)).toBe(false);
});
