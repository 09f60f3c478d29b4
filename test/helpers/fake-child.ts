/**
 * A fake worker process for tests that drive the pool's side without forking
 * (worker.ts, engine.ts): no pid, so nothing is ever signalled. It records
 * what the pool sends; the test plays the worker's part.
 */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Deadpool } from '../../src/parent/deadpool.js';
import { Engine } from '../../src/parent/engine.js';
import { Observer } from '../../src/parent/observer.js';
import { normalizeOptions, type DeadpoolOptions, type Settings } from '../../src/parent/options.js';
import type { ParentMessage, RunTask, WorkerMessage } from '../../src/shared/protocol.js';
import { closeAfterTest } from './pools.js';

export class FakeChild extends EventEmitter {
  readonly pid = undefined;
  connected = true;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly stdout = null;
  readonly stderr = null;
  readonly sent: ParentMessage[] = [];
  #exited = false;

  send(message: ParentMessage): boolean {
    this.sent.push(message);
    return true;
  }

  unref(): void {}

  /** The process ends (once): its channel closes, then it exits. */
  die(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#exited) return;
    this.#exited = true;
    this.connected = false;
    this.emit('disconnect');
    this.emit('exit', code, signal);
  }
}

/** A worker that answers `init` with `ready` and exits on `finalize`; the test sends the rest. */
export class EngineChild extends FakeChild {
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

/**
 * An engine whose workers are EngineChild fakes, listed in the order they
 * were made; closed after the test (its sentinel is a real process).
 */
export function fakeEngine(options: DeadpoolOptions): {
  engine: Engine;
  settings: Settings;
  children: EngineChild[];
} {
  const settings = normalizeOptions(options);
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
  closeAfterTest(async () => {
    const closed = engine.close(false, true);
    // Fake workers have no pid to kill: they exit when told.
    for (const child of children) child.die(null, 'SIGKILL');
    await closed;
  });
  return { engine, settings, children };
}
