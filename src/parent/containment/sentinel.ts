/**
 * The pool's sentinel: one small `/bin/sh` process per pool that kills the
 * pool's workers, and everything they started, when the pool's process
 * dies, even a worker stuck in a synchronous loop, which cannot see its IPC
 * channel close. It waits on a pipe that only the pool's process holds; the
 * kernel closes it when that process dies, however it dies. Its program is
 * sentinel-script.ts.
 *
 * It replaces a watchdog thread in each worker, which cost every worker
 * start a second V8 isolate (22–37 ms of CPU, ~3 ms of its main thread) and
 * every exit its teardown. One that dies while the pool runs is started
 * again (after a wait, when it keeps dying young). Where none can be
 * started (no `/bin/sh`), workers start their watchdog threads instead: new
 * ones at boot, live ones when told (`onLost`). docs/containment.md, "When the pool's
 * process dies".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { debug } from '../debug.js';
import type { ProcessIdentity } from '../../shared/kill.js';
import { SENTINEL_SCRIPT } from './sentinel-script.js';

/**
 * A sentinel that dies within this of its start is replaced after a wait
 * that doubles with each such death in a row, up to this too.
 */
const RESTART_BACKOFF_MAX_MS = 1_000;
/** Longest wait for a stopped sentinel to exit at shutdown. */
const STOP_WAIT_MS = 1_000;

export class Sentinel {
  /** Workers it must kill by their tree if the pool's process dies: pid → start time. */
  readonly #watched = new Map<number, number>();
  /** Workers that exited, not yet written to it (forget). */
  readonly #forgotten: number[] = [];
  readonly #onLost: () => void;
  #child: ChildProcess | undefined;
  #startedAt = 0;
  /** The wait before the next start: 0 while it lives long enough. */
  #backoffMs = 0;
  /** The pool's `cgroup.kill`, and its cgroup directories to remove, under kernel containment. */
  #cgroupKill = '';
  #dirs: readonly string[] = [];
  #scheduled = false;
  #closed = false;
  /** It cannot be started here: workers run their own watchdog threads. */
  #failed: boolean;

  readonly #shell: string;

  /** `shell`: the POSIX shell to run it in; undefined or missing, there is no sentinel. */
  constructor(onLost: () => void, shell: string | undefined) {
    this.#onLost = onLost;
    this.#shell = shell ?? '';
    this.#failed = shell === undefined || !existsSync(shell);
  }

  /** Workers must start a watchdog thread of their own. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Its pid while it runs (tests and debugging). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /**
   * Have it running, soon: started on the next turn of the event loop, off
   * the path of the workers' forks (no worker takes a task before then).
   * `cgroupKill` and `dirs`: the pool's, under kernel containment.
   */
  ensure(cgroupKill = '', dirs: readonly string[] = []): void {
    this.#cgroupKill = cgroupKill;
    this.#dirs = dirs;
    this.#schedule();
  }

  /**
   * A worker just forked: kill it and its tree if the pool's process dies.
   * The pool's cgroup.kill takes a contained worker as one; this also covers
   * a worker not yet moved in, and every worker under process groups.
   */
  watch(worker: ProcessIdentity): void {
    if (!Number.isFinite(worker.start)) return; // no /proc: nothing could be checked
    // A '-' for an earlier process with this pid must not come after this '+'.
    if (this.#forgotten.includes(worker.pid)) this.#writeForgotten();
    this.#watched.set(worker.pid, worker.start);
    this.#write(`+${worker.pid}:${worker.start}\n`);
  }

  /**
   * That worker exited. Its line goes on a later turn, with those of any
   * other worker that exited meanwhile, not on the turn that reports the
   * exit: the first write to the sentinel runs Node's stream code for the
   * first time, 0.4 ms that a crashed task's future waited for
   * (docs/performance.md). Late is safe: the sentinel checks each pid's
   * start time before it signals it.
   */
  forget(pid: number): void {
    if (!this.#watched.delete(pid)) return;
    this.#forgotten.push(pid);
    if (this.#forgotten.length === 1) setImmediate(() => this.#writeForgotten());
  }

  #writeForgotten(): void {
    if (this.#forgotten.length === 0) return;
    this.#write(this.#forgotten.map((pid) => `-${pid}\n`).join(''));
    this.#forgotten.length = 0;
  }

  /** The pool shut down: it exits without killing anything. Resolves once it has exited (bounded). */
  async stop(): Promise<void> {
    this.#closed = true;
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, STOP_WAIT_MS);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    child.stdin?.end('stop\n');
    await exited;
  }

  #schedule(delayMs = 0): void {
    if (this.#scheduled || this.#child || this.#failed || this.#closed) return;
    this.#scheduled = true;
    const start = (): void => {
      this.#scheduled = false;
      this.#start();
    };
    if (delayMs === 0) setImmediate(start);
    else setTimeout(start, delayMs).unref();
  }

  #write(line: string): void {
    const stdin = this.#child?.stdin;
    if (stdin && !stdin.destroyed) stdin.write(line);
  }

  #start(): void {
    if (this.#child || this.#failed || this.#closed) return;
    let child: ChildProcess;
    // The workers it must know go with its start, not in a write after it:
    // the pool's process could die in between.
    const workers = [...this.#watched].map(([pid, start]) => `${pid}:${start}`).join(' ');
    try {
      child = spawn(
        this.#shell,
        ['-c', SENTINEL_SCRIPT, 'deadpool-sentinel', this.#cgroupKill, ...this.#dirs],
        {
          detached: true, // its own session: a signal to the pool's process group leaves it alone
          stdio: ['pipe', 'ignore', 'ignore'],
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DEADPOOL_SENTINEL_WORKERS: workers },
        },
      );
    } catch (error) {
      this.#giveUp(`it could not be started: ${String(error)}`);
      return;
    }
    if (child.pid === undefined) {
      child.once('error', () => {}); // the spawn error, reported below
      this.#giveUp(`${this.#shell} could not be started`);
      return;
    }
    this.#child = child;
    this.#startedAt = performance.now();
    debug(`sentinel ${child.pid} started`);
    child.stdin!.on('error', () => {}); // it died: its 'exit' says so
    child.once('exit', (code, signal) => this.#exited(child, code, signal));
    // It must never keep the pool's process alive.
    child.unref();
    (child.stdin as unknown as Socket).unref();
  }

  #exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#child !== child) return; // stopped
    this.#child = undefined;
    if (this.#closed) return;
    const young = performance.now() - this.#startedAt < RESTART_BACKOFF_MAX_MS;
    this.#backoffMs = young ? Math.min(RESTART_BACKOFF_MAX_MS, this.#backoffMs * 2 || 10) : 0;
    debug(
      `sentinel ${child.pid} exited (${signal ?? code}) while the pool runs; another in ${this.#backoffMs} ms`,
    );
    this.#schedule(this.#backoffMs);
  }

  #giveUp(why: string): void {
    this.#failed = true;
    debug(`no sentinel (${why}): workers run watchdog threads`);
    this.#onLost();
  }
}
