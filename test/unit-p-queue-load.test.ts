/**
 * backlog.ts: p-queue is loaded the first time a task waits for a busy
 * worker, never for a task that finds one free or that waits only for the
 * first worker to boot; a pool that cannot load it fails
 * the waiting tasks' futures, naming why (a task put back after its worker
 * died too), and goes on.
 *
 * The tests run in order: the first four need p-queue not loaded yet in
 * this file's modules (the first two fail to load it), and the last one
 * loads it.
 */
import { afterEach, expect, test, vi } from 'vitest';
import { normalizeSubmitOptions } from '../src/parent/submit-options.js';
import { fakeEngine, type EngineChild } from './helpers/fake-child.js';
import { turn } from './helpers/index.js';

/** Every id required through `createRequire` since the test began, and the failure to give p-queue. */
const seen = vi.hoisted(() => ({ ids: [] as string[], fail: undefined as Error | undefined }));

vi.mock('node:module', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:module')>();
  return {
    ...real,
    createRequire: (from: string | URL) => {
      const require = real.createRequire(from);
      return (id: string): unknown => {
        seen.ids.push(id);
        if (id === 'p-queue' && seen.fail) throw seen.fail;
        return require(id);
      };
    },
  };
});

afterEach(() => {
  seen.ids.length = 0;
  seen.fail = undefined;
});

const SPEC = { kind: 'source', source: 'x => x' } as const;

async function onePool() {
  const { engine, settings, children } = fakeEngine({
    maxWorkers: 1,
    containment: 'process-group',
  });
  await engine.ready();
  const child = children[0]!;
  const options = normalizeSubmitOptions(undefined, settings);
  return {
    engine,
    settings,
    child,
    submit: (x: number) => engine.submit<number>(SPEC, [x], options),
  };
}

/** Answer every task sent to `child` so far that was not answered yet. */
function answer(child: EngineChild, done: Set<number>): void {
  for (const id of child.runs()) {
    if (done.has(id)) continue;
    done.add(id);
    child.reply({ t: 'ok', id, value: id, ms: 0.01, cpu: 0 });
  }
}

test('a pool that cannot load p-queue fails the task that waits, naming why, and runs the others', async () => {
  seen.fail = new Error('Cannot find package p-queue');
  const { child, submit } = await onePool();
  const done = new Set<number>();
  const first = submit(1); // the worker is free: it runs at once
  const second = submit(2); // it has to wait, and p-queue cannot be loaded
  await expect(second).rejects.toThrow(
    /deadpool could not load its dependency p-queue: Error: Cannot find package p-queue/,
  );
  await turn();
  answer(child, done);
  expect(await first).toBeTypeOf('number');
  // The next task to wait tries again (in a pool of its own here, so
  // that no run time of before lets it wait inside the busy worker instead).
  const again = await onePool();
  const third = again.submit(3);
  const fourth = again.submit(4);
  await expect(fourth).rejects.toThrow(/could not load its dependency p-queue/);
  await turn();
  answer(again.child, new Set());
  expect(await third).toBeTypeOf('number');
  expect(seen.ids.filter((id) => id === 'p-queue')).toHaveLength(2);
});

test('a task put back after its worker died, in a pool that cannot load p-queue, fails naming why', async () => {
  seen.fail = new Error('Cannot find package p-queue');
  const { engine, settings, child } = await onePool();
  // A module task: sent at once (no p-queue needed), and not started until the worker says so.
  const spec = { kind: 'module', module: 'file:///tasks.mjs', exportName: 'f' } as const;
  const task = engine.submit(spec, [1], normalizeSubmitOptions(undefined, settings));
  await turn();
  expect(child.runs()).toHaveLength(1);
  // The worker dies before it started the task: the task goes back to wait for another one.
  child.die(null, 'SIGKILL');
  await expect(task).rejects.toThrow(/deadpool could not load its dependency p-queue/);
  expect(seen.ids).toContain('p-queue');
});

test('tasks that always find the worker free never load p-queue', async () => {
  const { child, submit } = await onePool();
  const done = new Set<number>();
  for (let i = 0; i < 5; i++) {
    const result = submit(i);
    await turn();
    answer(child, done);
    await result;
  }
  expect(seen.ids).not.toContain('p-queue');
});

test("a task that waits only for the pool's first worker to boot runs without loading p-queue", async () => {
  const { engine, settings, children } = fakeEngine({
    maxWorkers: 1,
    containment: 'process-group',
  });
  // Submitted at construction: no worker can take it yet.
  const result = engine.submit<number>(SPEC, [7], normalizeSubmitOptions(undefined, settings));
  await engine.ready();
  await turn();
  const child = children[0]!;
  expect(child.runs()).toHaveLength(1);
  answer(child, new Set());
  expect(await result).toBeTypeOf('number');
  expect(seen.ids).not.toContain('p-queue');
});

test('the first task that waits for a worker loads p-queue, once, and every task runs', async () => {
  const { child, submit } = await onePool();
  const done = new Set<number>();
  const results = [1, 2, 3, 4].map(submit);
  for (let i = 0; i < 4; i++) {
    await turn();
    answer(child, done);
  }
  expect(await Promise.all(results)).toHaveLength(4);
  expect(seen.ids.filter((id) => id === 'p-queue')).toEqual(['p-queue']);
});
