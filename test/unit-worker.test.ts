/**
 * The parent side of a worker owns its state machine: each transition is a
 * method legal only from certain states, and anything else throws. Run
 * against a fake child process (no pid, so nothing is ever signalled).
 */
import type { ChildProcess } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import type { Job } from '../src/parent/job.js';
import { normalizeOptions, type Settings } from '../src/parent/options.js';
import { TRANSITIONS, Worker, type WorkerState } from '../src/parent/worker.js';
import { FakeChild } from './helpers/fake-child.js';
import { closeAfterTest } from './helpers/pools.js';

/**
 * Settings of a pool of one, stopped after the test: the first worker a
 * pool makes starts its sentinel, a real process, whatever the child is.
 */
function poolSettings(): Settings {
  const settings = normalizeOptions({ maxWorkers: 1, containment: 'process-group' });
  closeAfterTest(() => settings.containment.close());
  return settings;
}
const job = { id: 1, options: {} } as unknown as Job;

function make(): { worker: Worker; child: FakeChild; moves: string[]; exits: unknown[] } {
  const child = new FakeChild();
  const moves: string[] = [];
  const exits: unknown[] = [];
  const worker = new Worker(
    poolSettings(),
    0,
    {
      message: () => {},
      queued: () => {},
      transition: (_w, from, to) => void moves.push(`${from}→${to}`),
      exit: (_w, code, signal) => void exits.push([code, signal]),
    },
    () => child as unknown as ChildProcess,
  );
  return { worker, child, moves, exits };
}

/** A worker brought to `state` by legal moves. */
function inState(state: WorkerState): ReturnType<typeof make> {
  const made = make();
  const { worker, child } = made;
  if (state === 'starting') return made;
  if (state === 'retiring') {
    worker.retire('shutdown', { t: 'finalize', spec: undefined, args: [] });
    return made;
  }
  if (state === 'dying') {
    worker.kill('killed');
    return made;
  }
  if (state === 'exited') {
    child.die(0, null);
    return made;
  }
  worker.ready();
  if (state === 'busy') worker.assign(job);
  return made;
}

describe('a worker moves only as its state machine allows', () => {
  test('a whole life: starting → idle → busy → idle → retiring → exited', async () => {
    const { worker, child, moves, exits } = make();
    expect(worker.state).toBe('starting');
    worker.ready();
    worker.assign(job);
    expect(worker.job).toBe(job);
    expect(worker.finishTask()).toBe(job);
    expect(worker.tasksRun).toBe(1);
    expect(worker.job).toBeUndefined();
    worker.retire('maxTasks', { t: 'finalize', spec: undefined, args: [] });
    expect(child.sent.at(-1)).toMatchObject({ t: 'finalize' });
    child.die(0, null);
    await new Promise((resolve) => setImmediate(resolve));
    expect(moves).toEqual([
      'starting→idle',
      'idle→busy',
      'busy→idle',
      'idle→retiring',
      'retiring→exited',
    ]);
    expect(worker.exitReason).toBe('maxTasks');
    expect(exits).toEqual([[0, null]]);
  });

  test.each<[string, WorkerState, (w: Worker) => unknown]>([
    ['assign while starting', 'starting', (w) => w.assign(job)],
    ['assign while busy', 'busy', (w) => w.assign(job)],
    ['assign while retiring', 'retiring', (w) => w.assign(job)],
    ['assign while dying', 'dying', (w) => w.assign(job)],
    ['ready while idle', 'idle', (w) => w.ready()],
    ['ready while busy', 'busy', (w) => w.ready()],
    ['finishTask while idle', 'idle', (w) => w.finishTask()],
    ['finishTask while starting', 'starting', (w) => w.finishTask()],
    [
      'retire while busy',
      'busy',
      (w) => w.retire('idle', { t: 'finalize', spec: undefined, args: [] }),
    ],
    [
      'retire while dying',
      'dying',
      (w) => w.retire('idle', { t: 'finalize', spec: undefined, args: [] }),
    ],
    ['retireAfter while idle', 'idle', (w) => w.retireAfter('recycle')],
    ['lost while busy', 'busy', (w) => w.lost()],
  ])('%s is a bug and throws', (_title, state, act) => {
    const { worker, moves } = inState(state);
    const before = [...moves];
    expect(() => act(worker)).toThrow(/deadpool bug: worker -1 cannot/);
    expect(worker.state).toBe(state);
    expect(moves).toEqual(before);
  });

  test('kill takes a busy worker to dying and hands back its job', () => {
    const { worker, moves } = inState('busy');
    expect(worker.kill('timeout')).toBe(job);
    expect(worker.state).toBe('dying');
    expect(worker.job).toBeUndefined();
    expect(worker.exitReason).toBe('timeout');
    expect(moves.at(-1)).toBe('busy→dying');
  });

  test('killing a worker already dying changes nothing', () => {
    const { worker, moves } = inState('dying');
    const before = [...moves];
    expect(worker.kill('shutdown')).toBeUndefined();
    expect(worker.exitReason).toBe('killed');
    expect(moves).toEqual(before);
  });

  test('an idle worker whose channel closes can take no more work', () => {
    const { worker, child } = inState('idle');
    child.connected = false;
    child.emit('disconnect');
    expect(worker.state).toBe('dying');
    expect(worker.alive).toBe(false);
  });

  test('a busy worker whose channel closes stays busy until its exit settles the task', () => {
    const { worker, child } = inState('busy');
    child.connected = false;
    child.emit('disconnect');
    expect(worker.state).toBe('busy');
    expect(worker.job).toBe(job);
  });

  test('a worker marked to retire after its task no longer counts as staying', () => {
    const { worker } = inState('busy');
    expect(worker.staying).toBe(true);
    worker.retireAfter('recycle');
    expect(worker.staying).toBe(false);
    expect(worker.retireAfterTask).toBe('recycle');
  });

  test('the exit hook still sees the job of a worker that died busy', async () => {
    const child = new FakeChild();
    let seen: Job | undefined;
    const worker = new Worker(
      poolSettings(),
      0,
      { message: () => {}, queued: () => {}, transition: () => {}, exit: (w) => (seen = w.job) },
      () => child as unknown as ChildProcess,
    );
    worker.ready();
    worker.assign(job);
    child.die(null, 'SIGKILL');
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toBe(job);
    expect(worker.state).toBe('exited');
    expect(worker.job).toBeUndefined();
  });

  test('tasks queued while it runs one take over, the named one first, then in the order sent', () => {
    const { worker, moves } = inState('busy');
    const a = { id: 2, options: { name: 'a' } } as unknown as Job;
    const b = { id: 3, options: {} } as unknown as Job;
    const c = { id: 4, options: {} } as unknown as Job;
    worker.enqueue(a);
    worker.enqueue(b);
    worker.enqueue(c);
    expect(worker.finishTask({ next: 3 })).toBe(job);
    expect(worker.job).toBe(b); // the worker said it started b (a higher priority)
    expect(worker.finishTask()).toBe(b);
    expect(worker.job).toBe(a); // no word: the first sent starts on arrival
    expect(worker.unqueue(c)).toBe(true);
    expect(worker.unqueue(c)).toBe(false);
    expect(worker.finishTask()).toBe(a);
    expect(worker.state).toBe('idle');
    expect(worker.tasksRun).toBe(3);
    expect(moves.filter((m) => m === 'busy→idle')).toHaveLength(1);
  });

  test('a worker that held its queue (memory) goes idle with the tasks still inside', () => {
    const { worker } = inState('busy');
    const waiting = { id: 7, options: {} } as unknown as Job;
    worker.enqueue(waiting);
    expect(worker.finishTask({ held: true })).toBe(job);
    expect(worker.state).toBe('idle');
    expect(worker.queued).toEqual([waiting]);
  });

  test('enqueue is legal only while busy', () => {
    const { worker } = inState('idle');
    expect(() => worker.enqueue(job)).toThrow(/cannot enqueue while idle/);
  });

  test('takeQueued hands back what waited inside a dead worker, in the order sent', () => {
    const { worker } = inState('busy');
    const later = [5, 6].map((id) => ({ id, options: {} }) as unknown as Job);
    for (const j of later) worker.enqueue(j);
    worker.kill('killed');
    expect(worker.takeQueued()).toEqual(later);
    expect(worker.queued).toEqual([]);
  });

  test('every state but exited can reach exited, and exited is final', () => {
    for (const state of Object.keys(TRANSITIONS) as WorkerState[]) {
      if (state === 'exited') expect(TRANSITIONS[state]).toEqual([]);
      else expect(TRANSITIONS[state]).toContain('exited');
    }
  });
});
