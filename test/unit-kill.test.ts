/**
 * The kill helpers against a fake /proc in which pids are reused: no signal
 * ever reaches a process that merely has the pid (or the group id) of the
 * one meant (docs/signals.md). The real-process side is in
 * faults-pid-reuse.test.ts.
 */
import { describe, expect, test } from 'vitest';
import {
  identify,
  killDescendants,
  killGroup,
  killLiveGroup,
  killTree,
} from '../src/shared/kill.js';
import { parseStat } from '../src/shared/proc.js';
import { FakeMachine } from './helpers/fake-proc.js';

const POOL = 100;

/** The pool's process (100) with a worker (200, its own group) running a task with children. */
function poolWithWorker(): FakeMachine {
  const m = new FakeMachine();
  m.spawn(POOL, 1, { leader: true });
  m.spawn(200, POOL, { leader: true });
  m.spawn(201, 200); // a task's child, in the worker's group
  m.spawn(202, 201); // its child
  m.spawn(203, 200, { leader: true }); // a child that called setsid
  m.spawn(204, 203);
  return m;
}

describe('killTree', () => {
  test('kills the worker, its group and every descendant, each stopped before its children are read', () => {
    const m = poolWithWorker();
    const worker = identify(200, m)!;
    expect(killTree(worker, {}, m)).toBe(4);
    for (const pid of [200, 201, 202, 203, 204]) expect(m.table.get(pid)!.state).toBe('Z');
    expect(m.log.indexOf('SIGSTOP 200')).toBeLessThan(m.log.indexOf('children 200'));
    expect(m.log.indexOf('SIGSTOP 203')).toBeLessThan(m.log.indexOf('children 203'));
    expect(m.log.indexOf('SIGSTOP 201')).toBeLessThan(m.log.indexOf('children 201'));
    expect(m.kills()).toContain('SIGKILL -203');
    expect(m.kills()).toContain('SIGKILL -200');
  });

  test('sends nothing when the worker was reaped and its pid now belongs to another process', () => {
    const m = poolWithWorker();
    const worker = identify(200, m)!;
    for (const pid of [204, 203, 202, 201, 200]) m.reap(pid);
    m.spawn(200, 1, { leader: true }); // a stranger (another pool's new worker) gets pid 200
    expect(killTree(worker, {}, m)).toBeUndefined();
    expect(m.log.filter((line) => !line.startsWith('children'))).toEqual([]);
    expect(m.table.get(200)!.state).toBe('S');
  });

  test('does not kill a descendant whose pid was reused while the tree was being stopped', () => {
    const m = poolWithWorker();
    m.afterSend = (pid, sig) => {
      // Someone else kills 203 (setsid'd, out of the worker's group) after we stopped it;
      // its parent (the stopped worker cannot reap, so say init) reaps it, and the pid goes to a stranger.
      if (sig === 'SIGSTOP' && pid === 204) {
        m.afterSend = () => {};
        m.reap(204);
        m.spawn(204, 1, { leader: true });
      }
    };
    killTree(identify(200, m)!, {}, m);
    expect(m.sentTo(204)).toEqual(['SIGSTOP 204']);
    expect(m.sentTo(-204)).toEqual([]);
    expect(m.table.get(204)!.state).toBe('S');
  });

  test('stops before the final SIGKILL if the worker itself changed hands meanwhile', () => {
    const m = poolWithWorker();
    m.afterSend = (pid, sig) => {
      if (sig === 'SIGSTOP' && pid === 204) {
        m.afterSend = () => {};
        m.reap(200);
        m.spawn(200, 1, { leader: true });
      }
    };
    killTree(identify(200, m)!, {}, m);
    expect(m.sentTo(200)).toEqual(['SIGSTOP 200']);
    expect(m.sentTo(-200)).toEqual(['SIGSTOP -200']);
    expect(m.table.get(200)!.state).toBe('S');
  });

  test('needs a start time for any process but this one', () => {
    expect(() => killTree(process.pid + 1)).toThrow(TypeError);
  });
});

describe('killDescendants', () => {
  test('from a process killing its own tree: kills the descendants, never the process itself', () => {
    const m = poolWithWorker();
    expect(killDescendants(200, m)).toBe(4);
    expect(m.sentTo(200)).toEqual([]);
    expect(m.table.get(200)!.state).toBe('S');
    for (const pid of [201, 202, 203, 204]) expect(m.table.get(pid)!.state).toBe('Z');
  });

  test('signals a group only for a descendant that leads it', () => {
    const m = poolWithWorker();
    killDescendants(200, m);
    expect(m.kills().filter((line) => line.startsWith('SIGKILL -'))).toEqual(['SIGKILL -203']);
  });
});

describe('killLiveGroup, while the leader lives', () => {
  test('kills the worker and its group at once; a child that left the group stays (the cgroup takes it)', () => {
    const m = poolWithWorker();
    expect(killLiveGroup(identify(200, m)!, m)).toBe(true);
    expect(m.kills()).toEqual(['SIGKILL -200']);
    for (const pid of [200, 201, 202]) expect(m.table.get(pid)!.state).toBe('Z');
    for (const pid of [203, 204]) expect(m.table.get(pid)!.state).toBe('S');
  });

  test('signals nothing once the leader was reaped, even with its pid handed out again', () => {
    const m = new FakeMachine();
    m.spawn(POOL, 1, { leader: true });
    const old = identify(m.spawn(200, POOL, { leader: true }).pid, m)!;
    m.die(200);
    m.reap(200);
    expect(killLiveGroup(old, m)).toBe(false);
    m.spawn(200, 150, { leader: true }); // another pool's new worker
    expect(killLiveGroup(old, m)).toBe(false);
    expect(m.kills()).toEqual([]);
  });
});

describe('killGroup, after the leader was reaped', () => {
  test('kills a member left in the group (a task child the worker did not take with it)', () => {
    const m = poolWithWorker();
    const worker = identify(200, m)!;
    m.reap(200);
    expect(killGroup(worker, m)).toBe(true);
    expect(m.table.get(201)!.state).toBe('Z');
    expect(m.table.get(202)!.state).toBe('Z');
  });

  test('sends no SIGKILL when the group is empty', () => {
    const m = new FakeMachine();
    m.spawn(POOL, 1, { leader: true });
    const worker = identify(m.spawn(200, POOL, { leader: true }).pid, m)!;
    m.reap(200);
    expect(killGroup(worker, m)).toBe(false);
    expect(m.kills()).toEqual([]);
  });

  test('does not hit a new group that got the same id: a new worker with the reaped leader’s pid', () => {
    const m = new FakeMachine();
    m.spawn(POOL, 1, { leader: true });
    const old = identify(m.spawn(200, POOL, { leader: true }).pid, m)!;
    m.reap(200);
    // The pid counter wrapped: another pool's new worker (detached) gets 200, and group 200 is now its own.
    m.spawn(200, 150, { leader: true });
    m.spawn(205, 200);
    expect(killGroup(old, m)).toBe(false);
    expect(m.kills()).toEqual([]);
    expect(m.table.get(200)!.state).toBe('S');
    expect(m.table.get(205)!.state).toBe('S');
  });

  test('does not signal a group left with zombies only', () => {
    const m = poolWithWorker();
    const worker = identify(200, m)!;
    m.die(201);
    m.die(202);
    m.reap(200);
    expect(killGroup(worker, m)).toBe(false);
    expect(m.kills()).toEqual([]);
  });

  test('does nothing without /proc, where nothing can be checked', () => {
    const m = poolWithWorker();
    const worker = identify(200, m)!;
    m.reap(200);
    const blind = { proc: { ...m.proc, available: false }, send: m.send.bind(m) };
    expect(killGroup(worker, blind)).toBe(false);
    expect(m.log.filter((line) => !line.startsWith('children'))).toEqual([]);
  });
});

describe('parseStat', () => {
  test('reads the fields after a command name holding spaces and parentheses', () => {
    const text =
      '4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 18446744073709551615';
    expect(parseStat(text)).toEqual({ state: 'S', ppid: 1, pgid: 4242, sid: 4242, start: 987654 });
  });
});
