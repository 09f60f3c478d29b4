/**
 * The kill helpers with real processes: a process named by a start time it
 * does not have is never signalled (what a reused pid looks like), and the
 * group of a reaped leader is killed only while a member of it is left
 * (docs/signals.md). The fake-/proc side, with pids really reused, is
 * unit-kill.test.ts. Also the tests' own helpers, which follow the same rule.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { identify, killGroup, killTree } from '../src/shared/kill.js';
import { isAlive, killAfterTest, killChild, waitFor } from './helpers/index.js';

/** A detached `sleep 1000` (its own process group) held by this test, and its identity. */
function sleeper(): { pid: number; start: number; exited: Promise<unknown> } {
  const child = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' });
  const id = identify(child.pid!)!;
  killAfterTest([id.pid]);
  return { ...id, exited: new Promise((resolve) => child.once('exit', resolve)) };
}

describe('a pid that now names another process', () => {
  it('killTree sends nothing to a live process whose start time is not the one given', async () => {
    const stranger = sleeper();
    // What the pool would hold for an earlier worker that had this pid.
    expect(killTree({ pid: stranger.pid, start: stranger.start - 1 })).toBeUndefined();
    expect(isAlive(stranger.pid)).toBe(true);
    // The same call with the right identity kills it: the check is the only difference.
    expect(killTree({ pid: stranger.pid, start: stranger.start })).toBe(0);
    await stranger.exited;
  });

  it('killGroup leaves alone a live group whose leader is not the leader given (a new group with the same id)', async () => {
    const stranger = sleeper();
    expect(killGroup({ pid: stranger.pid, start: stranger.start - 1 })).toBe(false);
    expect(isAlive(stranger.pid)).toBe(true);
    process.kill(stranger.pid, 'SIGKILL'); // a live child this test holds: nobody else can reap it
    await stranger.exited;
  });
});

describe('the group of a reaped leader', () => {
  it('is killed while a member it started is left in it', async () => {
    // The leader starts a member in its group, prints the member's pid, and exits.
    const leader = spawn('sh', ['-c', 'sleep 1000 & echo $!'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const id = identify(leader.pid!)!;
    let out = '';
    leader.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    await new Promise((resolve) => leader.once('exit', resolve)); // reaped by now
    await waitFor(() => out.includes('\n'), { what: 'the member pid on stdout' });
    const member = Number(out.trim());
    killAfterTest([member]);
    expect(isAlive(member)).toBe(true);
    expect(killGroup(id)).toBe(true);
    await waitFor(() => !isAlive(member), { timeoutMs: 2_000, what: `member ${member} to die` });
  });

  it('is not signalled once it is empty', async () => {
    const leader = spawn('true', [], { detached: true, stdio: 'ignore' });
    const id = identify(leader.pid!)!;
    await new Promise((resolve) => leader.once('exit', resolve));
    expect(killGroup(id)).toBe(false);
  });
});

describe("the tests' own helpers", () => {
  it('killChild signals only a child of the test process', async () => {
    // sh is our child; the sleep it starts is not.
    const sh = spawn('sh', ['-c', 'sleep 1000 & echo $!; wait'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    sh.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    await waitFor(() => out.includes('\n'), { what: 'the grandchild pid on stdout' });
    const grandchild = Number(out.trim());
    killAfterTest([sh.pid!, grandchild]);
    expect(killChild(grandchild)).toBe(false);
    expect(isAlive(grandchild)).toBe(true);
    expect(killChild(sh.pid!)).toBe(true);
    await new Promise((resolve) => sh.once('exit', resolve));
  });

  it('a pid known with another start time is neither alive nor killed: it is a later process', async () => {
    const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const id = identify(child.pid!)!;
    // As if the test had known an earlier process with this pid.
    killAfterTest([{ pid: id.pid, start: id.start - 1 }]);
    expect(isAlive(id.pid)).toBe(false);
    expect(killChild(id.pid)).toBe(false);
    child.kill('SIGKILL');
    await exited;
  });
});
