/**
 * A fake worker process for tests that drive the pool's side without forking
 * (worker.ts, engine.ts): no pid, so nothing is ever signalled. It records
 * what the pool sends; the test plays the worker's part.
 */
import { EventEmitter } from 'node:events';
import type { ParentMessage } from '../../src/shared/protocol.js';

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
