/**
 * The pool's decisions (src/parent/policy.ts) as tables: why a worker
 * retires, how many workers are wanted, back-off, idle expiry, hand-off.
 */
import { describe, expect, test } from 'vitest';
import {
  backoffDelay,
  expiredIdle,
  handOff,
  MAX_PIPELINE_DEPTH,
  pipelinable,
  pipelineDepth,
  refillRoom,
  SHORT_TASK_MS,
  queueRoom,
  tasksToSteal,
  retireAfterTask,
  retireWhenReady,
  spawnPlan,
  windDown,
  workerDemand,
  workersWanted,
  type AfterTaskFacts,
} from '../src/parent/policy.js';

const calm: AfterTaskFacts = {
  marked: undefined,
  tasksRun: 3,
  maxTasksPerChild: Infinity,
  rss: 50e6,
  maxWorkerMemoryBytes: Infinity,
  stale: false,
  closing: false,
  waiting: 0,
  staying: 2,
  maxWorkers: 2,
};

describe('retireAfterTask', () => {
  test.each<[string, Partial<AfterTaskFacts>, string | undefined]>([
    ['nothing applies: it stays', {}, undefined],
    [
      'a reason marked while it ran wins over everything',
      { marked: 'recycle', tasksRun: 9, maxTasksPerChild: 1 },
      'recycle',
    ],
    ['it ran maxTasksPerChild tasks', { tasksRun: 5, maxTasksPerChild: 5 }, 'maxTasks'],
    [
      'one task short of maxTasksPerChild: it stays',
      { tasksRun: 4, maxTasksPerChild: 5 },
      undefined,
    ],
    ['its RSS is at maxWorkerMemoryBytes', { rss: 100, maxWorkerMemoryBytes: 100 }, 'memory'],
    [
      'its RSS is just below maxWorkerMemoryBytes',
      { rss: 99, maxWorkerMemoryBytes: 100 },
      undefined,
    ],
    [
      'maxTasks is checked before memory',
      { tasksRun: 1, maxTasksPerChild: 1, rss: 100, maxWorkerMemoryBytes: 1 },
      'maxTasks',
    ],
    ['it was started before recycleWorkers()', { stale: true }, 'recycle'],
    [
      'memory is checked before recycle',
      { stale: true, rss: 100, maxWorkerMemoryBytes: 1 },
      'memory',
    ],
    ['closing with nothing waiting', { closing: true }, 'shutdown'],
    ['closing with tasks waiting: it stays to run them', { closing: true, waiting: 3 }, undefined],
    ['more workers than maxWorkers after resize()', { staying: 3, maxWorkers: 2 }, 'idle'],
    ['recycle is checked before shutdown', { stale: true, closing: true }, 'recycle'],
  ])('%s', (_title, facts, expected) => {
    expect(retireAfterTask({ ...calm, ...facts })).toBe(expected);
  });
});

describe('retireWhenReady', () => {
  test.each([
    [{ closing: false, waiting: 0, stale: false }, undefined],
    [{ closing: true, waiting: 0, stale: false }, 'shutdown'],
    [{ closing: true, waiting: 2, stale: false }, undefined],
    [{ closing: false, waiting: 0, stale: true }, 'recycle'],
    [{ closing: true, waiting: 0, stale: true }, 'shutdown'],
    [{ closing: true, waiting: 1, stale: true }, 'recycle'],
  ])('%o → %s', (facts, expected) => {
    expect(retireWhenReady(facts)).toBe(expected);
  });
});

describe('windDown', () => {
  test.each([
    [{ state: 'idle', closing: false, waiting: 0 }, undefined],
    [{ state: 'starting', closing: false, waiting: 0 }, undefined],
    [{ state: 'idle', closing: true, waiting: 0 }, 'retire'],
    [{ state: 'starting', closing: true, waiting: 0 }, 'kill'],
    [{ state: 'idle', closing: true, waiting: 1 }, undefined],
    [{ state: 'starting', closing: true, waiting: 1 }, undefined],
    [{ state: 'idle', closing: true, waiting: 0, hurry: true }, 'kill'],
    [{ state: 'starting', closing: true, waiting: 0, hurry: true }, 'kill'],
    [{ state: 'idle', closing: true, waiting: 1, hurry: true }, undefined],
    [{ state: 'idle', closing: false, waiting: 0, hurry: true }, undefined],
  ] as const)('%o → %s', (facts, expected) => {
    expect(windDown(facts)).toBe(expected);
  });
});

describe('workerDemand', () => {
  test.each([
    [{ busy: 0, unassigned: 0, perWorker: 1 }, 0],
    [{ busy: 2, unassigned: 3, perWorker: 1 }, 5],
    // Several tasks per worker: one worker for each `perWorker` tasks waiting.
    [{ busy: 1, unassigned: 4, perWorker: 4 }, 2],
    [{ busy: 1, unassigned: 5, perWorker: 4 }, 3],
    [{ busy: 0, unassigned: 1, perWorker: 8 }, 1],
  ])('%o → %i', (facts, expected) => {
    expect(workerDemand(facts)).toBe(expected);
  });
});

describe('workersWanted', () => {
  test.each([
    [{ demand: 0, minWorkers: 2, maxWorkers: 4, closing: false }, 2],
    [{ demand: 3, minWorkers: 2, maxWorkers: 4, closing: false }, 3],
    [{ demand: 9, minWorkers: 2, maxWorkers: 4, closing: false }, 4],
    [{ demand: 0, minWorkers: 2, maxWorkers: 4, closing: true }, 0],
    [{ demand: 1, minWorkers: 2, maxWorkers: 4, closing: true }, 1],
    [{ demand: 9, minWorkers: 2, maxWorkers: 4, closing: true }, 4],
    [{ demand: 0, minWorkers: 0, maxWorkers: 1, closing: false }, 0],
  ])('%o → %i', (facts, expected) => {
    expect(workersWanted(facts)).toBe(expected);
  });
});

describe('back-off and spawning', () => {
  test.each([
    [0, 0],
    [1, 100],
    [2, 200],
    [3, 400],
    [6, 3_200],
    [7, 5_000],
    [50, 5_000],
  ])('after %i failed starts in a row, wait %i ms', (failures, ms) => {
    expect(backoffDelay(failures)).toBe(ms);
  });

  test.each([
    [
      { wanted: 4, staying: 4, startFailures: 0 },
      { spawn: 0, delay: 0 },
    ],
    [
      { wanted: 4, staying: 5, startFailures: 0 },
      { spawn: 0, delay: 0 },
    ],
    [
      { wanted: 4, staying: 1, startFailures: 0 },
      { spawn: 3, delay: 0 },
    ],
    [
      { wanted: 4, staying: 1, startFailures: 2 },
      { spawn: 1, delay: 200 },
    ],
    [
      { wanted: 4, staying: 4, startFailures: 2 },
      { spawn: 0, delay: 0 },
    ],
  ])('%o → %o', (facts, expected) => {
    expect(spawnPlan(facts)).toEqual(expected);
  });
});

describe('expiredIdle', () => {
  const w = (name: string, idleSince: number): { name: string; idleSince: number } => ({
    name,
    idleSince,
  });

  test('retires the workers idle for idleTimeout, oldest first, down to minWorkers', () => {
    const idle = [w('a', 0), w('b', 500), w('c', 100), w('d', 950)];
    const { retire, nextCheck } = expiredIdle({
      idle,
      now: 1_000,
      idleTimeout: 400,
      staying: 4,
      minWorkers: 2,
    });
    expect(retire.map((x) => x.name)).toEqual(['a', 'c']);
    expect(nextCheck).toBeUndefined(); // at minWorkers: nothing left to expire
  });

  test('looks again when the oldest remaining idle worker will have expired', () => {
    const { retire, nextCheck } = expiredIdle({
      idle: [w('a', 0), w('b', 700)],
      now: 1_000,
      idleTimeout: 400,
      staying: 2,
      minWorkers: 0,
    });
    expect(retire.map((x) => x.name)).toEqual(['a']);
    expect(nextCheck).toBe(100);
  });

  test('a timer that fires a hair early still counts (1 ms of slack)', () => {
    const { retire } = expiredIdle({
      idle: [w('a', 0)],
      now: 399.5,
      idleTimeout: 400,
      staying: 1,
      minWorkers: 0,
    });
    expect(retire).toHaveLength(1);
  });
});

describe('handOff', () => {
  test.each([
    [{ needsImport: true, idleForMs: 0 }, 'load'],
    [{ needsImport: true, idleForMs: 50 }, 'load'],
    [{ needsImport: false, idleForMs: 0.5 }, 'run'],
    [{ needsImport: false, idleForMs: 1 }, 'run'],
    [{ needsImport: false, idleForMs: 1.5 }, 'ack'],
  ])('%o → %s', (facts, expected) => {
    expect(handOff(facts)).toBe(expected);
  });
});

describe('pipelining', () => {
  test.each([
    [undefined, 0],
    [50, 0],
    [5, 0],
    [4.9, 1],
    [1, 2],
    [0.5, 4],
    [0.0625, 32],
    [0.03125, 64],
    [0.01, MAX_PIPELINE_DEPTH],
    [0, MAX_PIPELINE_DEPTH],
  ])('recent tasks averaging %s ms → %i queued per busy worker', (avg, depth) => {
    expect(pipelineDepth(avg)).toBe(depth);
  });

  test.each([
    [16, 0, 16, 16],
    [8, 8, 16, 8],
    [7, 9, 16, 0],
    [15, 1, 16, 15],
    [1, 0, 1, 1],
    [0, 1, 1, 0],
  ])(
    'room %i with %i queued of depth %i: a worker is refilled only once it holds half or less → %i',
    (room, queued, depth, expected) => {
      expect(refillRoom(room, queued, depth)).toBe(expected);
    },
  );

  test.each([
    [0, 16],
    [SHORT_TASK_MS, 16],
    [SHORT_TASK_MS + 0.1, 0],
    [60_000, 0],
  ])(
    'behind a task running for %s ms a worker is refilled with %i (none once it turned out long)',
    (runningForMs, expected) => {
      expect(refillRoom(16, 0, 16, runningForMs)).toBe(expected);
    },
  );

  const plain = {
    needsImport: false,
    timeout: undefined as number | undefined,
    priority: 0,
    lowerQueued: 0,
  };
  test.each<[string, Partial<typeof plain>, boolean]>([
    ['a plain task', {}, true],
    ['a task whose module is not loaded there', { needsImport: true }, false],
    ['a tight timeout', { timeout: 999 }, false],
    ['a generous timeout', { timeout: 1_000 }, true],
    ['priority 0 behind other priorities', { lowerQueued: 3 }, true],
    ['priority 2 with none other waiting', { priority: 2 }, true],
    ['priority 2 with one of priority 5 waiting', { priority: 2, lowerQueued: 1 }, false],
  ])('%s may wait inside a busy worker: %s', (_title, facts, expected) => {
    expect(pipelinable({ ...plain, ...facts })).toBe(expected);
  });

  const free = {
    depth: 4,
    queued: 0,
    tasksRun: 0,
    maxTasksPerChild: Infinity,
    marked: false,
    stale: false,
  };
  test.each<[string, Partial<typeof free>, number]>([
    ['an empty queue has room for depth', {}, 4],
    ['room shrinks as tasks wait', { queued: 3 }, 1],
    ['no room past depth', { queued: 5 }, 0],
    ['no room in a worker marked to retire', { marked: true }, 0],
    ['no room in a worker from before recycleWorkers()', { stale: true }, 0],
    [
      'room stops at maxTasksPerChild (running task included)',
      { maxTasksPerChild: 3, tasksRun: 1 },
      1,
    ],
    ['none when the running task is the last allowed', { maxTasksPerChild: 3, tasksRun: 2 }, 0],
  ])('%s', (_title, facts, room) => {
    expect(queueRoom({ ...free, ...facts })).toBe(room);
  });
});

describe('tasksToSteal', () => {
  test.each([
    [{ queued: 0, runningForMs: 100 }, 0],
    [{ queued: 1, runningForMs: 1 }, 0],
    [{ queued: 5, runningForMs: 1 }, 2],
    [{ queued: 3, runningForMs: 100 }, 3],
  ])('%o → %i', (facts, expected) => {
    expect(tasksToSteal(facts)).toBe(expected);
  });
});
