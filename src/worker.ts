/**
 * Parent side of one worker process: fork it as the leader of its own process
 * group, hold its state, send it work, keep the tail of its stderr, kill its
 * tree. Policy (what to run, when to retire) belongs to the engine.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { freezeTree, killTree } from './kill.js';
import type { Settings } from './options.js';
import type { BootConfig, ParentMessage, WorkerMessage } from './protocol.js';
import type { ExitReason } from './stats.js';

/**
 * starting → idle ⇄ busy → retiring → exited. `dying` is a worker the pool
 * has SIGKILLed: no longer counted alive, waiting for its exit to be reaped.
 */
export type WorkerState = 'starting' | 'idle' | 'busy' | 'retiring' | 'dying' | 'exited';

export interface WorkerEvents<J> {
  message(worker: WorkerProcess<J>, message: WorkerMessage): void;
  exit(worker: WorkerProcess<J>, exitCode: number | null, signal: NodeJS.Signals | null): void;
  /** The IPC channel closed: the worker can take no more work. */
  disconnect(worker: WorkerProcess<J>): void;
}

const ENTRY = fileURLToPath(new URL('./worker-main.js', import.meta.url));
const STDERR_TAIL_BYTES = 4_096;
const FINALIZE_GRACE_MS = 10_000;
/** Longest wait, after a worker exits, for its last messages and stderr. */
const EXIT_DRAIN_MS = 100;

export class WorkerProcess<J> {
  readonly pid: number;
  readonly generation: number;
  state: WorkerState = 'starting';
  /** The job it runs now. */
  job: J | undefined;
  tasksRun = 0;
  everReady = false;
  /** Task modules this worker has imported (so their deadline starts at the hand-off). */
  readonly loaded = new Set<string>();
  idleSince = 0;
  /** Set when the pool decides this worker's end (kill or retirement). */
  exitReason: ExitReason | undefined;
  /** Retire as soon as the current task ends. */
  retireAfterTask: ExitReason | undefined;
  /** What went wrong before it became ready, or what it reported before dying. */
  startError: Error | undefined;
  fatal: { kind: string; error: unknown } | undefined;
  disconnected = false;
  readonly #child: ChildProcess;
  #stderr = '';
  #timer: NodeJS.Timeout | undefined;
  #reported = false;

  constructor(settings: Settings, generation: number, events: WorkerEvents<J>) {
    this.generation = generation;
    const boot: BootConfig = {
      cwd: settings.cwd,
      parentPid: process.pid,
      reportRss: Number.isFinite(settings.maxWorkerMemoryBytes),
    };
    this.#child = fork(ENTRY, [JSON.stringify(boot)], {
      cwd: settings.cwd,
      env: settings.env(),
      execArgv: settings.execArgv,
      serialization: settings.serialization,
      detached: true, // its own process group, so the group can be killed as one
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    const child = this.#child;
    this.pid = child.pid ?? -1;
    child.on('error', (error) => {
      // A spawn failure, or a send to a child that just died: the exit handler decides.
      this.startError ??= error;
      if (this.pid === -1) this.#reportExit(events, null, null);
    });
    child.on('message', (message: WorkerMessage) => events.message(this, message));
    child.on('disconnect', () => {
      this.disconnected = true;
      events.disconnect(this);
    });
    child.once('exit', (code, signal) => {
      // Report the exit only after every message the worker sent has been read
      // (the channel's 'disconnect' comes after them), so a result sent before
      // dying is never failed; and, for a death the pool did not cause, after
      // the last stderr bytes (an OOM report, a stack) have arrived. Bounded.
      const pending: Promise<void>[] = [];
      if (child.connected)
        pending.push(new Promise((resolve) => child.once('disconnect', resolve)));
      const stderr = child.stderr;
      if (stderr && !stderr.readableEnded && this.exitReason === undefined) {
        pending.push(new Promise((resolve) => stderr.once('end', resolve)));
      }
      if (pending.length === 0) {
        this.#reportExit(events, code, signal);
        return;
      }
      const timer = setTimeout(() => this.#reportExit(events, code, signal), EXIT_DRAIN_MS);
      void Promise.all(pending).then(() => {
        clearTimeout(timer);
        this.#reportExit(events, code, signal);
      });
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    // An idle pool must not keep the parent alive; the engine holds a ref while it has work.
    child.unref();
    (child.channel as { unref?: () => void } | undefined)?.unref?.();
    (child.stderr as Socket | null)?.unref?.();
  }

  get stderrTail(): string {
    return this.#stderr;
  }

  /** Throws synchronously when the message cannot be serialized; nothing is sent then. */
  send(message: ParentMessage): void {
    if (!this.#child.connected) throw new Error(`worker ${this.pid} is not connected`);
    this.#child.send(message);
  }

  /** Run `onExpire` if the worker is still in this state after `ms`. */
  deadline(ms: number, onExpire: () => void): void {
    this.#clearTimer();
    this.#timer = setTimeout(onExpire, ms);
    this.#timer.unref();
  }

  clearDeadline(): void {
    this.#clearTimer();
  }

  /** SIGKILL the worker's whole process tree. */
  kill(reason: ExitReason): void {
    this.exitReason ??= reason;
    this.#clearTimer();
    if (this.state !== 'exited') this.state = 'dying';
    if (this.pid <= 0 || this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    // Freeze the worker's group now (two syscalls); walk and kill the tree on
    // the next turn, so whoever awaits the future just settled runs first.
    freezeTree(this.pid);
    setImmediate(() => killTree(this.pid));
  }

  /** Ask the worker to run its finalizer and exit; kill it if it takes too long. */
  retire(reason: ExitReason, message: ParentMessage): void {
    this.exitReason ??= reason;
    this.state = 'retiring';
    try {
      this.send(message);
    } catch {
      this.kill(reason);
      return;
    }
    this.deadline(FINALIZE_GRACE_MS, () => this.kill(reason));
  }

  #reportExit(events: WorkerEvents<J>, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#clearTimer();
    this.state = 'exited';
    events.exit(this, code, signal);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
