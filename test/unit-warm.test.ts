/**
 * Task modules imported ahead (docs/dispatch.md, "Task modules, imported
 * ahead"): the pool offers an idle worker the task modules its other workers
 * were sent (fake workers here, no process), and a worker imports what it is
 * offered only once idle for a while (the child's Warmer, on fake timers).
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { Engine } from '../src/parent/engine.js';
import type { Settings } from '../src/parent/options.js';
import { normalizeSubmitOptions } from '../src/parent/submit-options.js';
import { IDLE_MS, Warmer, type Idleness } from '../src/child/warm.js';
import type { ParentMessage, TaskSpec } from '../src/shared/protocol.js';
import { fakeEngine, type EngineChild } from './helpers/fake-child.js';
import { turn, waitFor } from './helpers/index.js';

const moduleSpec = (name: string): TaskSpec => ({
  kind: 'module',
  module: `file:///warm/${name}.mjs`,
  exportName: name,
});
const SOURCE: TaskSpec = { kind: 'source', source: 'x => x' };

/** The modules each 'warm' message offered `child`, in order. */
function offers(child: EngineChild): string[][] {
  return child.sent.flatMap((m: ParentMessage) => (m.t === 'warm' ? [m.modules] : []));
}

/** Two fake workers, both ready and idle. */
async function twoIdle(): Promise<{
  engine: Engine;
  settings: Settings;
  children: EngineChild[];
}> {
  const made = fakeEngine({ maxWorkers: 2, minWorkers: 2, containment: 'process-group' });
  await made.engine.ready();
  return made;
}

/** Submit a task and return the child it was sent to. */
async function runOn(
  { engine, settings, children }: { engine: Engine; settings: Settings; children: EngineChild[] },
  spec: TaskSpec,
): Promise<{ child: EngineChild; finish: () => void; fail: () => void }> {
  const before = children.map((c) => c.runs().length);
  void engine.submit(spec, [1], normalizeSubmitOptions(undefined, settings)).catch(() => {});
  await turn();
  const child = children.find((c, i) => c.runs().length > (before[i] ?? 0));
  if (!child) throw new Error('the task was sent to no worker');
  const id = child.runs().at(-1)!;
  return {
    child,
    finish: () => child.reply({ t: 'ok', id, value: 1, ms: 0.01, cpu: 0 }),
    fail: () =>
      child.reply({ t: 'err', id, error: { kind: 'thrown', value: 'no' }, ms: 0.01, cpu: 0 }),
  };
}

describe('the pool offers task modules to idle workers', () => {
  test('once a task of a module returned, an idle worker is offered the module; the one that ran it is not', async () => {
    const pool = await twoIdle();
    const { child: a, finish } = await runOn(pool, moduleSpec('m'));
    const b = pool.children.find((c) => c !== a)!;
    await turn();
    expect(offers(b)).toEqual([]);
    finish();
    await turn();
    expect(offers(b)).toEqual([['file:///warm/m.mjs']]);
    expect(pool.engine.snapshot().workerProcessesIdle).toBe(2);
    expect(offers(a)).toEqual([]);
    // A second task of the same module offers nothing more to anyone.
    const again = await runOn(pool, moduleSpec('m'));
    again.finish();
    await turn();
    expect(offers(a)).toEqual([]);
    expect(offers(b)).toEqual([['file:///warm/m.mjs']]);
  });

  test('a module whose task failed is not offered (it may not load, or refuse a nested pool)', async () => {
    const pool = await twoIdle();
    const { child: a, fail } = await runOn(pool, moduleSpec('m'));
    fail();
    await turn();
    expect(pool.children.flatMap((child) => offers(child))).toEqual([]);
    expect(pool.children.find((c) => c !== a)).toBeDefined();
  });

  test('a busy worker is offered the module when it becomes idle, not before', async () => {
    const pool = await twoIdle();
    const busy = await runOn(pool, SOURCE);
    const other = await runOn(pool, moduleSpec('m'));
    expect(other.child).not.toBe(busy.child);
    other.finish();
    await turn();
    expect(offers(busy.child)).toEqual([]);
    busy.finish();
    await turn();
    expect(offers(busy.child)).toEqual([['file:///warm/m.mjs']]);
  });

  test('a fresh worker is offered every module seen so far, each once', async () => {
    const pool = await twoIdle();
    const first = await runOn(pool, moduleSpec('m'));
    first.finish();
    await turn();
    const second = await runOn(pool, moduleSpec('n'));
    second.finish();
    await turn();
    pool.engine.setBounds({ minWorkers: 3, maxWorkers: 3 });
    await waitFor(() => pool.engine.snapshot().workerProcessesIdle === 3, {
      what: 'a third idle worker',
    });
    const third = pool.children[2]!;
    expect(offers(third)).toEqual([['file:///warm/m.mjs', 'file:///warm/n.mjs']]);
  });

  test('at most 8 modules are offered', async () => {
    const pool = await twoIdle();
    for (let i = 0; i < 10; i++) {
      const task = await runOn(pool, moduleSpec(`m${i}`));
      task.finish();
      await turn();
    }
    const offered = pool.children.flatMap((c) => offers(c).flat());
    expect(new Set(offered)).toEqual(
      new Set(Array.from({ length: 8 }, (_, i) => `file:///warm/m${i}.mjs`)),
    );
  });

  test('after an offered worker dies idle, no worker is offered anything again', async () => {
    const pool = await twoIdle();
    const { child: a, finish } = await runOn(pool, moduleSpec('m'));
    finish();
    await turn();
    const b = pool.children.find((c) => c !== a)!;
    expect(offers(b)).toHaveLength(1);
    // Its import of the module killed it (say): no task was running to blame.
    b.die(1, null);
    await waitFor(
      () => pool.children.length === 3 && pool.engine.snapshot().workerProcessesIdle === 2,
      { what: 'a replacement worker, idle' },
    );
    const c = pool.children[2]!;
    expect(offers(c)).toEqual([]);
    // Nor is a module seen later offered.
    const later = await runOn(pool, moduleSpec('n'));
    later.finish();
    await turn();
    expect(pool.children.flatMap((child) => offers(child))).toEqual([['file:///warm/m.mjs']]);
    expect(pool.engine.snapshot().workerExits.crashed).toBe(1);
  });
});

/** A runner stand-in: idle or not, as the test says. */
class FakeRunner implements Idleness {
  idle = true;
  #then: (() => void) | undefined;
  whenIdle(then: () => void): void {
    this.#then = then;
  }
  becomeIdle(): void {
    this.idle = true;
    const then = this.#then;
    this.#then = undefined;
    then?.();
  }
}

describe('a worker imports what it is offered once idle', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function warmer(fail: string[] = []): {
    warmer: Warmer;
    runner: FakeRunner;
    imported: string[];
  } {
    const imported: string[] = [];
    const runner = new FakeRunner();
    const loader = {
      warm: (module: string): Promise<void> => {
        imported.push(module);
        return fail.includes(module)
          ? Promise.reject(new Error('no')).catch(() => {})
          : Promise.resolve();
      },
    };
    return { warmer: new Warmer(loader, runner), runner, imported };
  }

  test(`after ${IDLE_MS} ms idle, one module after the other, each once`, async () => {
    vi.useFakeTimers();
    const { warmer: w, imported } = warmer(['b']);
    w.offer(['a', 'b', 'c']);
    await vi.advanceTimersByTimeAsync(IDLE_MS - 1);
    expect(imported).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    // A failed import is left for the task that needs the module.
    expect(imported).toEqual(['a', 'b', 'c']);
    w.offer(['a', 'd']);
    await vi.advanceTimersByTimeAsync(IDLE_MS);
    expect(imported).toEqual(['a', 'b', 'c', 'd']);
  });

  test(`while a task runs or waits, nothing; then ${IDLE_MS} ms after it became idle`, async () => {
    vi.useFakeTimers();
    const { warmer: w, runner, imported } = warmer();
    runner.idle = false;
    w.offer(['a']);
    await vi.advanceTimersByTimeAsync(IDLE_MS * 10);
    expect(imported).toEqual([]);
    runner.becomeIdle();
    await vi.advanceTimersByTimeAsync(IDLE_MS - 1);
    expect(imported).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(imported).toEqual(['a']);
  });

  test('a task that came meanwhile holds back the next module', async () => {
    vi.useFakeTimers();
    const imported: string[] = [];
    const runner = new FakeRunner();
    let release = (): void => {};
    const loader = {
      warm: (module: string): Promise<void> => {
        imported.push(module);
        return module === 'a' ? new Promise((resolve) => (release = resolve)) : Promise.resolve();
      },
    };
    const w = new Warmer(loader, runner);
    w.offer(['a', 'b']);
    await vi.advanceTimersByTimeAsync(IDLE_MS);
    expect(imported).toEqual(['a']);
    // A task arrives while `a` loads; `b` waits until the worker is idle again.
    runner.idle = false;
    release();
    await vi.advanceTimersByTimeAsync(IDLE_MS * 10);
    expect(imported).toEqual(['a']);
    runner.becomeIdle();
    await vi.advanceTimersByTimeAsync(IDLE_MS);
    expect(imported).toEqual(['a', 'b']);
  });

  test(`an idle job (the code cache's write) runs once, ${IDLE_MS} ms into idleness, after the modules offered before it`, async () => {
    vi.useFakeTimers();
    const { warmer: w, runner, imported } = warmer();
    runner.idle = false;
    w.offer(['a']);
    w.idle(() => imported.push('job'));
    await vi.advanceTimersByTimeAsync(IDLE_MS * 10);
    expect(imported).toEqual([]);
    runner.becomeIdle();
    await vi.advanceTimersByTimeAsync(IDLE_MS);
    expect(imported).toEqual(['a', 'job']);
    w.offer(['b']);
    await vi.advanceTimersByTimeAsync(IDLE_MS);
    expect(imported).toEqual(['a', 'job', 'b']);
  });
});
