/**
 * The engine against fake worker processes (no pid, so nothing is ever
 * signalled): orders of messages that real workers produce only under
 * rare timings, replayed exactly.
 */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { expect, test } from 'vitest';
import type { Deadpool } from '../src/parent/deadpool.js';
import { Engine } from '../src/parent/engine.js';
import { Observer } from '../src/parent/observer.js';
import { normalizeOptions } from '../src/parent/options.js';
import { normalizeSubmitOptions } from '../src/parent/submit-options.js';
import type { ParentMessage, RunTask, WorkerMessage } from '../src/shared/protocol.js';
import { FakeChild } from './helpers/fake-child.js';
import { turn, within } from './helpers/index.js';

/** A worker that answers `init` with `ready` and exits on `finalize`; the test sends the rest. */
class EngineChild extends FakeChild {
  override send(message: ParentMessage): boolean {
    super.send(message);
    if (message.t === 'init') queueMicrotask(() => this.reply({ t: 'ready', cpu: 0 }));
    if (message.t === 'finalize') queueMicrotask(() => this.die(0, null));
    return true;
  }
  reply(message: WorkerMessage): void {
    this.emit('message', message);
  }
  /** The ids of the tasks sent to it so far, in order. */
  runs(): number[] {
    return this.sent.flatMap((m) => (m.t === 'run' ? m.tasks.map((t: RunTask) => t.id) : []));
  }
  kill(): boolean {
    this.die(null, 'SIGKILL');
    return true;
  }
}

const SPEC = { kind: 'source', source: 'x => x' } as const;

test('closing: a worker freed after the last job settled (its head handed back unstarted) retires, and the close completes', async () => {
  const settings = normalizeOptions({ maxWorkers: 1, containment: 'process-group' });
  const children: EngineChild[] = [];
  const engine = new Engine(
    settings,
    new Observer(new EventEmitter() as unknown as Deadpool),
    () => {},
    () => {
      const child = new EngineChild();
      children.push(child);
      return child as unknown as ChildProcess;
    },
  );
  await engine.ready();
  const child = children[0]!;
  const ok = (id: number, extra: object = {}): void =>
    child.reply({ t: 'ok', id, value: id, ms: 0.01, cpu: 0, ...extra });
  const options = normalizeSubmitOptions(undefined, settings);
  // A short task first, so that the pool queues tasks inside the busy worker.
  const warm = engine.submit(SPEC, [0], options);
  await turn();
  ok(child.runs()[0]!);
  await warm;
  // `a` runs; `b` waits inside the worker behind it.
  const a = engine.submit(SPEC, [1], options);
  const b = engine.submit(SPEC, [2], options);
  await turn();
  const [, aId, bId] = child.runs();
  expect(bId).toBeDefined();
  // `b` is cancelled while it waits there: it settles, and the worker is asked to drop it.
  expect(b.cancel()).toBe(true);
  expect(child.sent.at(-1)).toEqual({ t: 'drop', ids: [bId] });
  // `a`'s result names no next task: `b` reached the worker after it ended,
  // so `b` is the head, to start on arrival. Then the pool closes: no job is
  // left, the worker is busy with `b` as far as the pool knows.
  ok(aId!);
  expect(await a).toBe(aId);
  let closed = false;
  const closing = engine.close(true, false).then(() => (closed = true));
  await turn();
  expect(closed).toBe(false);
  // The worker hands `b` back unstarted: it is idle now, and must retire.
  child.reply({ t: 'dropped', ids: [bId!] });
  await within(closing, 5_000, 'the close after the worker went idle');
  expect(child.sent.some((m) => m.t === 'finalize')).toBe(true);
});
