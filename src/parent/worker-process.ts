/**
 * The plumbing of one worker process, below its state machine (worker.ts):
 * fork it as the leader of its own process group, send it messages (each task
 * spec only the first time), read its output, and report its exit only once
 * everything it sent has been read. It keeps no state of the worker's and
 * decides nothing.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  identify,
  isSameProcess,
  killGroup,
  killLiveGroup,
  killTree,
  type ProcessIdentity,
} from '../shared/kill.js';
import { cacheDir } from '../shared/code-cache.js';
import type { Containment } from './containment/containment.js';
import type { WorkerCgroup } from './containment/worker-cgroup.js';
import { procTreeCpu } from './containment/usage.js';
import type {
  BootConfig,
  ParentMessage,
  RunTask,
  TaskSpec,
  WorkerMessage,
} from '../shared/protocol.js';
import type { Job } from './job.js';
import type { Settings } from './options.js';
import { OutputReader } from './worker-output.js';

/** How a worker process is made; tests pass a fake. */
export type Spawn = (settings: Settings, boot: BootConfig) => ChildProcess;

/**
 * The worker's entry: `npm run build` bundles child/main.js and its imports
 * into one script, run by child/worker.cjs (scripts/bundle.mjs), one file to
 * load on every worker start instead of ten, and a CommonJS entry, which
 * Node reaches sooner than an ES module one; a build without that step forks main.js.
 */
const BUNDLE = fileURLToPath(new URL('../child/worker.cjs', import.meta.url));
const ENTRY = existsSync(BUNDLE)
  ? BUNDLE
  : fileURLToPath(new URL('../child/main.js', import.meta.url));
/** Distinct task specs a worker remembers by id; past this, specs travel with every task. */
const MAX_SPECS = 1_000;
let nextSpecId = 1;
/** Longest wait, after a worker exits, for its last messages and stderr. */
const EXIT_DRAIN_MS = 100;

export const forkWorker: Spawn = (settings, boot) =>
  fork(ENTRY, [JSON.stringify(boot)], {
    cwd: settings.cwd,
    env: settings.env(),
    execArgv: [...settings.execArgv],
    serialization: settings.serialization,
    detached: true, // its own process group, so the group can be killed as one
    stdio: ['ignore', settings.onWorkerOutput ? 'pipe' : 'inherit', 'pipe', 'ipc'],
  });

export interface ProcessHooks {
  message(message: WorkerMessage): void;
  /** Its IPC channel closed. */
  disconnect(): void;
  /** A spawn failure, or a send to a child that just died. */
  error(error: Error): void;
  /** It exited and everything it sent has been read (or the wait ran out). */
  exit(code: number | null, signal: NodeJS.Signals | null): void;
  /** The name of the task it runs or ran last, for its output lines. */
  taskName(): string | undefined;
  /** Wait for its last stderr bytes before reporting the exit (a death the pool did not cause). */
  drainOutput(): boolean;
}

export class WorkerProcess {
  readonly pid: number;
  /** Its cgroups, under kernel containment. */
  readonly cgroup: WorkerCgroup | undefined;
  /** Resolves once it is in its cgroups (at once without); rejects when the kernel refused. */
  readonly placed: Promise<void>;
  /** It was offered task modules to import ahead of its tasks. */
  #warmedAhead = false;
  /** Without a cgroup: its tree's CPU total (µs) read just before the pool killed it. */
  #cpuAtKill: number | undefined;
  /**
   * Its pid and start time, read right after the fork: until this thread
   * reaps it, /proc/<pid> can be no one else. Every signal the pool sends
   * about this worker checks it first (docs/signals.md).
   */
  readonly #identity: ProcessIdentity | undefined;
  readonly #child: ChildProcess;
  readonly #containment: Containment;
  readonly #hooks: ProcessHooks;
  readonly #output: OutputReader;
  /** Specs this worker has been sent, by the id it knows them by. */
  readonly #specIds = new Map<TaskSpec, number>();
  /** Task modules it was sent, with a task or to import ahead (`warm`). */
  readonly #modules = new Set<string>();
  /** How much of the pool's list of task modules `warm` has gone through. */
  #warmedTo = 0;

  constructor(settings: Settings, hooks: ProcessHooks, spawn: Spawn) {
    this.#hooks = hooks;
    const containment = (this.#containment = settings.containment);
    const cgroup = (this.cgroup = containment.placeWorker());
    const boot: BootConfig = {
      // Absolute, as fork resolves a relative one now: the worker resolves
      // a function task's require() and import() from it.
      cwd: resolve(settings.cwd),
      parentPid: process.pid,
      ...(Number.isFinite(settings.maxWorkerMemoryBytes) && {
        maxRss: settings.maxWorkerMemoryBytes,
      }),
      ...(settings.concurrentTasksPerWorker > 1 && {
        concurrent: settings.concurrentTasksPerWorker,
      }),
      ...(cgroup && { cgroup: cgroup.boot() }),
      ...(containment.workersNeedWatchdog && { watchdog: true }),
      codeCache: cacheDir(),
    };
    let child: ChildProcess;
    try {
      child = this.#child = spawn(settings, boot);
    } catch (error) {
      // A fork that throws (rather than failing with an 'error' event) leaves nothing behind.
      if (cgroup) containment.release(cgroup);
      throw error;
    }
    this.pid = child.pid ?? -1;
    if (cgroup && this.pid <= 0) containment.release(cgroup); // it never started
    this.#identity = this.pid > 0 ? identify(this.pid) : undefined;
    if (this.#identity) containment.watchWorker(this.#identity);
    // Off the event loop, while the worker's Node boots (WorkerCgroup.enter),
    // and only once the code running now is done: while a move waits on the
    // kernel it holds the kernel's cgroup lock, and the next worker's cgroups
    // could not be made until it is done.
    this.placed =
      cgroup && this.pid > 0
        ? Promise.resolve().then(() =>
            // Reaped: `exitCode` or `signalCode` is set in the callback that reaps it.
            containment.enter(
              cgroup,
              this.pid,
              () => child.exitCode !== null || child.signalCode !== null,
            ),
          )
        : Promise.resolve();
    this.placed.catch(() => {}); // Worker.boot handles it
    child.on('error', (error) => hooks.error(error));
    child.on('message', (message: WorkerMessage) => hooks.message(message));
    child.on('disconnect', () => hooks.disconnect());
    child.once('exit', (code, signal) => {
      // Whatever is left of its cgroup (daemons included), or of its process
      // group (a task's children), goes with it, at once. It was just reaped:
      // killGroup signals the group only while a member keeps its id from
      // being handed out again.
      containment.forgetWorker(this.pid);
      if (cgroup) containment.release(cgroup);
      else if (this.#identity !== undefined) killGroup(this.#identity);
      this.#drainThenExit(code, signal);
    });
    this.#output = new OutputReader(this.pid, settings.onWorkerOutput, () => hooks.taskName());
    this.#output.read(child.stdout, 'stdout');
    this.#output.read(child.stderr, 'stderr');
    // An idle pool must not keep the parent alive; the pool holds a ref while it has work.
    child.unref();
    (child.channel as { unref?: () => void } | undefined)?.unref?.();
    (child.stdout as Socket | null)?.unref?.();
    (child.stderr as Socket | null)?.unref?.();
  }

  /**
   * Its tree's CPU total (µs) as the kernel counts it: its cgroup's (the last
   * figure once released), else what was read when the pool killed it.
   */
  cpuTotal(): number | undefined {
    return this.cgroup ? this.cgroup.cpu() : this.#cpuAtKill;
  }

  /** Its IPC channel is open. */
  get connected(): boolean {
    return this.#child.connected;
  }

  /** The process has not exited (as far as the parent has heard). */
  get running(): boolean {
    return this.pid > 0 && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /**
   * SIGKILL the worker and everything it started, now, if it has not
   * exited: its cgroup as one (and the worker itself, in case it had not
   * moved in yet), or its tree found from /proc. The worker is checked
   * against its start time first, as libuv may have reaped it already in a
   * batch whose 'exit' events have not all been emitted. While another
   * worker is being moved in, the cgroup's kill lands only once that move is
   * done (Containment.kill): the worker's process group goes at once then.
   */
  kill(): void {
    if (!this.running || this.#identity === undefined) return;
    if (!this.cgroup && isSameProcess(this.#identity)) this.#cpuAtKill = procTreeCpu(this.pid);
    if (this.cgroup) {
      // Its group, the worker in it, goes now if the cgroup's kill lands later.
      if (!this.#containment.kill(this.cgroup) && killLiveGroup(this.#identity)) return;
      if (isSameProcess(this.#identity)) this.#child.kill('SIGKILL');
    } else {
      // The whole tree, now: killTree stops the worker, reads its children
      // from /proc (a few small files per process, well under a millisecond
      // for a worker that started none) and SIGKILLs them all, so the worker
      // is dead before the future settles and before anything else runs.
      killTree(this.#identity);
    }
  }

  get stderrTail(): string {
    return this.#output.stderrTail;
  }

  /** Throws synchronously when the message cannot be serialized; nothing is sent then. */
  send(message: ParentMessage): void {
    if (!this.#child.connected) throw new Error(`worker ${this.pid} is not connected`);
    this.#child.send(message);
  }

  /**
   * Send tasks in one message; each spec goes along only the first time.
   * Throws, with nothing sent, when a task's arguments cannot be serialized.
   * `ack`: starts on arrival are announced.
   */
  run(jobs: readonly Job[], ack: boolean): void {
    const fresh: TaskSpec[] = [];
    const tasks = jobs.map((job): RunTask => {
      let specId = this.#specIds.get(job.spec);
      const task: RunTask = { id: job.id, specId: 0, args: job.args };
      if (specId === undefined) {
        task.spec = job.spec;
        if (this.#specIds.size < MAX_SPECS) {
          specId = nextSpecId++;
          this.#specIds.set(job.spec, specId);
          fresh.push(job.spec);
        }
      }
      if (specId !== undefined) task.specId = specId;
      if (job.priority !== 0) task.priority = job.priority;
      if (ack) task.ack = true;
      if (job.batch) task.batch = true;
      if (job.stream) task.stream = job.stream.highWaterMark;
      return task;
    });
    try {
      this.send({ t: 'run', tasks });
    } catch (error) {
      for (const spec of fresh) this.#specIds.delete(spec);
      throw error;
    }
    for (const spec of fresh) if (spec.kind === 'module') this.#modules.add(spec.module);
  }

  /** It was offered task modules to import ahead of its tasks. */
  get warmedAhead(): boolean {
    return this.#warmedAhead;
  }

  /**
   * Offer it the modules of `list` (the pool's task modules, only ever
   * appended to) that it has not been sent, to import while it is idle.
   */
  warm(list: readonly string[]): void {
    if (this.#warmedTo >= list.length) return;
    const offer: string[] = [];
    for (let i = this.#warmedTo; i < list.length; i++) {
      const module = list[i]!;
      if (this.#modules.has(module)) continue;
      this.#modules.add(module);
      offer.push(module);
    }
    this.#warmedTo = list.length;
    if (offer.length === 0) return;
    try {
      this.send({ t: 'warm', modules: offer });
      this.#warmedAhead = true;
    } catch {
      // its channel closed: its exit follows
    }
  }

  /**
   * Report the exit only after every message the worker sent has been read
   * (the channel's 'disconnect' comes after them), so a result sent before
   * dying is never failed; and, for a death the pool did not cause, after the
   * last stderr bytes (an OOM report, a stack) have arrived. Bounded.
   */
  #drainThenExit(code: number | null, signal: NodeJS.Signals | null): void {
    const child = this.#child;
    const pending: Promise<void>[] = [];
    if (child.connected) pending.push(new Promise((resolve) => child.once('disconnect', resolve)));
    if (this.#hooks.drainOutput()) {
      for (const stream of [child.stdout, child.stderr]) {
        if (stream && !stream.readableEnded) {
          pending.push(new Promise((resolve) => stream.once('end', resolve)));
        }
      }
    }
    if (pending.length === 0) {
      this.#hooks.exit(code, signal);
      return;
    }
    const timer = setTimeout(() => this.#hooks.exit(code, signal), EXIT_DRAIN_MS);
    void Promise.all(pending).then(() => {
      clearTimeout(timer);
      this.#hooks.exit(code, signal);
    });
  }
}
