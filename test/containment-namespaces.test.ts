/**
 * A pool in a pid namespace whose /proc is another namespace's (`unshare
 * --pid --fork` without `--mount-proc`): /proc/<pid> names another process
 * than `pid` there, so nothing read from it may decide a kill or a sweep
 * (docs/signals.md). Two pools in two processes of such a namespace: the
 * second one's start must not take the first one's cgroups for a dead
 * owner's, kill its worker and remove its cgroups.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { within } from './helpers/index.js';

const fixture = fileURLToPath(new URL('./fixtures/containment/foreign-proc.mjs', import.meta.url));

interface Report {
  pid: number;
  procSelf: string | null;
  kind: string;
  outcome: { ok: boolean; pid?: number; error?: string };
  exits: string[];
}

test("in a pid namespace whose /proc is another's, a pool's start leaves another process's pool alone", async () => {
  // unshare's child is the namespace's init: killing it ends everything inside.
  const child = spawn('unshare', ['--pid', '--fork', '--kill-child', process.execPath, fixture], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await within(exited, 30_000, `the fixture to end (stderr: ${err.slice(-2000)})`);
    const report = JSON.parse(out.trim()) as Report;
    // The premise: pid 1 here, and /proc says otherwise; the pools are in cgroups.
    expect(report.pid).toBe(1);
    expect(report.procSelf).not.toBe('1');
    expect(report.kind).toBe('cgroup');
    // The first pool's worker was never killed, and its task ran.
    expect(report.exits.filter((reason) => reason !== 'shutdown')).toEqual([]);
    expect(report.outcome.ok).toBe(true);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
