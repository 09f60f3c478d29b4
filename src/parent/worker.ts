/**
 * Parent side of one worker process: fork it as the leader of its own process
 * group, own its state and every change of it, send it work, keep the tail of
 * its stderr, kill its tree. Each transition is a method that is legal only
 * from the states listed in TRANSITIONS; anything else is a bug and throws.
 *
 * It decides nothing: what to run and when to retire are the dispatcher's
 * and the fleet's (policy.ts). Whoever needs to know about a change (counts,
 * the idle stack, memory sampling) hears of it through `hooks.transition`.
 */
import {
  fromWire,
  type ParentMessage,
  type Usage,
  type WorkerMessage,
} from '../shared/protocol.js';
import { ContainmentError } from '../shared/errors.js';
import { debug } from './debug.js';
import type { ExitReason } from './events.js';
import type { Job } from './job.js';
import type { Settings } from './options.js';
import { forkWorker, WorkerProcess } from './worker-process.js';
import { UsageTally, type TaskUsage } from './containment/usage.js';

export { forkWorker, type Spawn } from './worker-process.js';

/**
 * starting → idle ⇄ busy → retiring → exited. `dying` is a worker that can
 * take no more work and is not counted alive: the pool SIGKILLed it, or its
 * IPC channel closed; it waits for its exit to be reaped.
 */
export type WorkerState = 'starting' | 'idle' | 'busy' | 'retiring' | 'dying' | 'exited';

/** The states each state may move to. */
export const TRANSITIONS: Readonly<Record<WorkerState, readonly WorkerState[]>> = {
  starting: ['idle', 'retiring', 'dying', 'exited'],
  idle: ['busy', 'retiring', 'dying', 'exited'],
  busy: ['idle', 'retiring', 'dying', 'exited'],
  retiring: ['dying', 'exited'],
  dying: ['exited'],
  exited: [],
};

export interface WorkerHooks {
  message(worker: Worker, message: WorkerMessage): void;
  /** Tasks waiting inside it (sent, not started) changed by `delta`. */
  queued(worker: Worker, delta: number): void;
  /** After the state changed (`worker.state === to`). */
  transition(worker: Worker, from: WorkerState, to: WorkerState): void;
  exit(worker: Worker, exitCode: number | null, signal: NodeJS.Signals | null): void;
}

const FINALIZE_GRACE_MS = 10_000;

/**
 * Once a retiring worker has said its finalizer is done, only its exit is
 * left: one still alive this long after is killed. Node's process.exit()
 * can deadlock when a background compile waits for a garbage collection
 * that the exiting main thread never runs (nodejs/node#54918): on Node
 * 26, a pool of two that had echoed 10 MB buffers hit it in 7 of 40
 * graceful shutdowns, each of which then took FINALIZE_GRACE_MS
 * (docs/api.md, "Pool methods").
 */
export const FINALIZED_EXIT_MS = 1_000;

/**
 * However a worker exits (retiring, a task's process.exit(), a fatal
 * error, a failed initializer), one still alive this long after its 'exit'
 * listeners ran (its 'exiting' message) is killed: only Node's teardown
 * was left, where that deadlock sits (or a join of a thread stuck in
 * native code). Normally the exit follows within a few ms.
 */
export const EXITING_MS = 250;

export class Worker {
  readonly pid: number;
  readonly generation: number;
  /** Task modules this worker has imported (so their deadline starts at the hand-off). */
  readonly loaded = new Set<string>();
  #state: WorkerState = 'starting';
  #job: Job | undefined;
  /** With concurrentTasksPerWorker above 1: the tasks it runs beside `#job`, in the order given. */
  readonly #others: Job[] = [];
  /** Tasks sent to it that it has not started, in the order they were sent. */
  readonly #queued: Job[] = [];
  /** The name of the task it runs or ran last: output read just after a task ended is still that task's. */
  #lastTaskName: string | undefined;
  /** The affinity of the last task it ran that had one. */
  #affinity: string | undefined;
  #tasksRun = 0;
  #everReady = false;
  #idleSince = 0;
  #exitReason: ExitReason | undefined;
  /** The task because of which the pool killed it, if it did. */
  #killedFor: Job | undefined;
  #retireAfterTask: ExitReason | undefined;
  #startError: Error | undefined;
  #fatal: { kind: string; error: unknown } | undefined;
  /** The code of the exit it announced, once that exit stalled and the pool killed it. */
  #stalledExit: number | undefined;
  readonly #process: WorkerProcess;
  readonly #hooks: WorkerHooks;
  /** Its tree's CPU and memory totals, as its messages report them. */
  readonly #usage = new UsageTally();
  #timer: NodeJS.Timeout | undefined;

  constructor(settings: Settings, generation: number, hooks: WorkerHooks, spawn = forkWorker) {
    this.generation = generation;
    this.#hooks = hooks;
    this.#process = new WorkerProcess(
      settings,
      {
        message: (message) => this.#onMessage(message),
        disconnect: () => {
          // The channel closed: it can take no more work. A busy worker's task is
          // settled by its exit, which follows.
          if (this.#state === 'idle') this.lost();
        },
        error: (error) => {
          // A spawn failure, or a send to a child that just died: the exit decides.
          this.#startError ??= error;
          if (this.pid === -1) this.#exited(null, null);
        },
        exit: (code, signal) => this.#exited(code, signal),
        taskName: () => this.#lastTaskName,
        drainOutput: () => this.#exitReason === undefined,
      },
      spawn,
    );
    this.pid = this.#process.pid;
  }

  get state(): WorkerState {
    return this.#state;
  }

  /** The job it runs now (busy; the first given, with several), else undefined. */
  get job(): Job | undefined {
    return this.#job;
  }

  /** Every job it runs now (one, or with concurrentTasksPerWorker up to that many). */
  get jobs(): readonly Job[] {
    const job = this.#job;
    if (job === undefined) return [];
    return this.#others.length === 0 ? [job] : [job, ...this.#others];
  }

  /** The job it runs whose id is `id`, if any. */
  running(id: number): Job | undefined {
    if (this.#job?.id === id) return this.#job;
    return this.#others.find((j) => j.id === id);
  }

  /** It runs `job` (as its task, or beside it). */
  runs(job: Job): boolean {
    return this.#job === job || (this.#others.length > 0 && this.#others.includes(job));
  }

  /** Tasks sent to it that it has not started (they still count as waiting). */
  get queued(): readonly Job[] {
    return this.#queued;
  }

  /** The affinity of the last task it ran that had one (a task without one leaves it alone). */
  get affinity(): string | undefined {
    return this.#affinity;
  }

  get tasksRun(): number {
    return this.#tasksRun;
  }

  /** It reported ready at least once. */
  get everReady(): boolean {
    return this.#everReady;
  }

  /** `performance.now()` when it last became idle. */
  get idleSince(): number {
    return this.#idleSince;
  }

  /** Why the pool ended it (killed or retired), if it did. */
  get exitReason(): ExitReason | undefined {
    return this.#exitReason;
  }

  /** The task because of which the pool killed it (its timeout, a kill, its memory), if it did. */
  get killedFor(): Job | undefined {
    return this.#killedFor;
  }

  /** A retirement decided while it ran its task, carried out after the task. */
  get retireAfterTask(): ExitReason | undefined {
    return this.#retireAfterTask;
  }

  /** What went wrong before it became ready. */
  get startError(): Error | undefined {
    return this.#startError;
  }

  /** The code of the exit it announced, when that exit stalled and the pool killed it. */
  get stalledExit(): number | undefined {
    return this.#stalledExit;
  }

  /** An uncaught exception or unhandled rejection it reported before dying. */
  get fatal(): { kind: string; error: unknown } | undefined {
    return this.#fatal;
  }

  get stderrTail(): string {
    return this.#process.stderrTail;
  }

  /** Alive and not on its way out: it counts against `maxWorkers`. */
  get staying(): boolean {
    const s = this.#state;
    return (s === 'starting' || s === 'idle' || s === 'busy') && !this.#retireAfterTask;
  }

  /** Alive as the statistics count it: a worker the pool SIGKILLed no longer is. */
  get alive(): boolean {
    return this.#state !== 'dying' && this.#state !== 'exited';
  }

  /** Its IPC channel is open. */
  get connected(): boolean {
    return this.#process.connected;
  }

  /** What the worker says about itself is kept here; the rest goes to the pool. */
  #onMessage(message: WorkerMessage): void {
    switch (message.t) {
      case 'initFailed':
        this.#startError ??= fromWire(message.error) as Error;
        return;
      case 'fatal':
        this.#fatal = { kind: message.kind, error: fromWire(message.error) };
        return;
      case 'finalized': {
        if (message.error) {
          const error = fromWire(message.error);
          process.emitWarning(
            `the finalizer of worker ${this.pid} threw: ${error instanceof Error ? error.message : String(error)}`,
            { code: 'DEADPOOL_FINALIZER' },
          );
        }
        this.#exitWithin(FINALIZED_EXIT_MS);
        return;
      }
      case 'exiting':
        this.#exiting(message.code);
        return;
      default:
        this.#hooks.message(this, message);
    }
  }

  /** A retiring worker on its way out gets `ms` more to exit, then is killed. */
  #exitWithin(ms: number): void {
    const reason = this.#exitReason;
    if (this.#state !== 'retiring' || reason === undefined) return;
    this.#deadline(ms, () => {
      debug('worker %d on its way out did not exit within %d ms: killed', this.pid, ms);
      this.kill(reason);
    });
  }

  /**
   * Its process.exit() ran the 'exit' listeners (code `code`): one still
   * alive EXITING_MS later is killed. A retiring worker keeps its reason
   * (#exitWithin); any other takes no more work if idle, and its tasks fail
   * with what its exit was (src/parent/exit-message.ts), as they would had
   * it exited.
   */
  #exiting(code: number): void {
    const state = this.#state;
    if (state === 'retiring') {
      this.#exitWithin(EXITING_MS);
      return;
    }
    // Killed already (a worker that lost its channel is 'dying' too, with no reason).
    if (state === 'exited' || (state === 'dying' && this.#exitReason !== undefined)) return;
    if (state === 'idle') this.lost();
    this.#deadline(EXITING_MS, () => {
      debug(
        'worker %d did not exit within %d ms of process.exit(%d): killed',
        this.pid,
        EXITING_MS,
        code,
      );
      this.#stalledExit = code;
      this.#process.kill();
    });
  }

  /**
   * A result (or 'ready') came: what ran since the message before it used
   * (with several tasks at once, what the worker used since its last result).
   */
  tally(usage: Usage): TaskUsage {
    return this.#usage.add(usage);
  }

  /** What its running task used so far, from the kernel's figures (it died, or is about to). */
  usageOfRunning(): TaskUsage {
    return this.#usage.final(this.#process.cpuTotal(), this.#process.cgroup?.peak());
  }

  /** The kernel OOM-killed a process of its tree since its task started (kernel memory cap only). */
  memoryExceeded(): boolean {
    return this.#process.cgroup?.memoryExceeded() ?? false;
  }

  /** Throws synchronously when the message cannot be serialized; nothing is sent then. */
  send(message: ParentMessage): void {
    this.#process.send(message);
  }

  /** Offer it the task modules of `list` it has not been sent, to import while idle (src/child/warm.ts). */
  warm(list: readonly string[]): void {
    this.#process.warm(list);
  }

  /** It was offered task modules to import ahead. */
  get warmedAhead(): boolean {
    return this.#process.warmedAhead;
  }

  /**
   * Send tasks it holds already (assigned or enqueued), in one message; each
   * spec goes along only the first time. Throws, with nothing sent, when a
   * task's arguments cannot be serialized. `ack`: starts on arrival are announced.
   */
  run(jobs: readonly Job[], ack: boolean): void {
    this.#process.run(jobs, ack);
  }

  /**
   * Send the initializer once the worker is in its cgroups (if any), and give
   * it `startTimeout` ms from now to report ready. A worker the kernel
   * refused to move is killed: a failed start.
   */
  boot(message: ParentMessage, startTimeout: number): void {
    this.#expect('boot', 'starting');
    // Timed for the debug line only: the first `performance` access loads
    // perf_hooks (~1 ms), which would fall between a pool's first forks.
    const since = debug.enabled ? performance.now() : 0;
    this.#process.placed.then(
      () => {
        if (this.#process.cgroup && debug.enabled) {
          debug('worker %d in its cgroups after %d ms', this.pid, performance.now() - since);
        }
        try {
          this.send(message);
        } catch {
          // the exit reports it
        }
      },
      (error: unknown) => {
        // It died meanwhile (the kernel says ESRCH): its exit tells why.
        if (this.#state !== 'starting' || (error as NodeJS.ErrnoException).code === 'ESRCH') return;
        this.#startError ??= new ContainmentError(
          `worker ${this.pid} could not be moved into its cgroups: ${String(error)}`,
        );
        this.kill('startFailed');
      },
    );
    this.#deadline(startTimeout, () => {
      this.#startError ??= new Error(`worker ${this.pid} did not start within ${startTimeout} ms`);
      this.kill('startFailed');
    });
  }

  /** starting → idle: it booted and ran its initializer. */
  ready(): void {
    this.#expect('ready', 'starting');
    this.#clearDeadline();
    this.#everReady = true;
    this.#idleSince = performance.now();
    this.#move('idle');
  }

  /** idle → busy: it runs `job`. */
  assign(job: Job): void {
    this.#expect('assign', 'idle');
    this.#runs(job);
    this.#move('busy');
  }

  /** busy: one more task it runs at once beside the others (concurrentTasksPerWorker). */
  join(job: Job): void {
    this.#expect('join', 'busy');
    this.#others.push(job);
    this.#lastTaskName = job.options.name;
    this.#affinity = job.options.affinity ?? this.#affinity;
  }

  /**
   * busy: `job`, one of the tasks it runs at once, ended (a result, or a
   * hand-off that failed to send). With none left, busy → idle.
   */
  finishOne(job: Job, counted = true): void {
    this.#expect('finishOne', 'busy');
    if (job === this.#job) this.#job = this.#others.shift();
    else {
      const i = this.#others.indexOf(job);
      if (i === -1) return;
      this.#others.splice(i, 1);
    }
    if (counted) this.#tasksRun++;
    if (this.#job !== undefined) return;
    this.#idleSince = performance.now();
    this.#move('idle');
  }

  /** busy: one more task to start after the one it runs (it waits inside the worker). */
  enqueue(job: Job): void {
    this.#expect('enqueue', 'busy');
    this.#queued.push(job);
    this.#hooks.queued(this, 1);
  }

  /**
   * busy: its task ended (a result, or a hand-off that failed to send);
   * returns the job it ran. The task the worker named as `next` runs now; with
   * no `next` but tasks still on their way, the first sent starts on arrival
   * (it will confirm). Otherwise, or when the worker `held` (it starts no
   * more), busy → idle, with any tasks inside or on their way still to be
   * taken back; call `retire()` next if it should go.
   */
  finishTask({
    counted = true,
    next,
    held = false,
  }: { counted?: boolean; next?: number | undefined; held?: boolean } = {}): Job {
    this.#expect('finishTask', 'busy');
    const job = this.#job!;
    if (counted) this.#tasksRun++;
    const i = next === undefined ? 0 : this.#queued.findIndex((j) => j.id === next);
    if (!held && i !== -1 && this.#queued.length > 0) {
      // The first (the common case) without splice, which allocates an array per call.
      const head = i === 0 ? this.#queued.shift()! : this.#queued.splice(i, 1)[0]!;
      this.#hooks.queued(this, -1);
      this.#runs(head);
      return job;
    }
    this.#job = undefined;
    this.#idleSince = performance.now();
    this.#move('idle');
    return job;
  }

  /**
   * The worker says it started `job`, which waits inside it, and not the task
   * taken for its running one (that one waits on, in its place).
   */
  startedInstead(job: Job): void {
    this.#expect('startedInstead', 'busy');
    const i = this.#queued.indexOf(job);
    if (i === -1 || this.#job === undefined) return;
    this.#queued[i] = this.#job;
    this.#runs(job);
  }

  /** `job` is the task it runs now. */
  #runs(job: Job): void {
    this.#job = job;
    this.#lastTaskName = job.options.name;
    this.#affinity = job.options.affinity ?? this.#affinity;
  }

  /** A task that waited inside it left (dropped, or taken back); false if it was not there. */
  unqueue(job: Job): boolean {
    const i = this.#queued.indexOf(job);
    if (i === -1) return false;
    this.#queued.splice(i, 1);
    this.#hooks.queued(this, -1);
    return true;
  }

  /**
   * dying, killed by the pool: its last messages, read after the kill, say it
   * had started `job`, which waited inside it (a result naming it as `next`,
   * or its 'started'). `job` is the task it runs now, and dies with; false if
   * it did not wait inside it.
   */
  startedBeforeKill(job: Job): boolean {
    this.#expect('startedBeforeKill', 'dying');
    if (!this.unqueue(job)) return false;
    this.#runs(job);
    return true;
  }

  /** dying: the result of the task it had started before the pool killed it came. */
  endedBeforeKill(job: Job): void {
    this.#expect('endedBeforeKill', 'dying');
    if (this.#job === job) this.#job = undefined;
  }

  /** Take out every task that waited inside it (it died), in the order they were sent. */
  takeQueued(): Job[] {
    const jobs = this.#queued.splice(0);
    if (jobs.length > 0) this.#hooks.queued(this, -jobs.length);
    return jobs;
  }

  /** idle → dying: its channel closed, so it can take no more work; its exit follows. */
  lost(): void {
    this.#expect('lost', 'idle');
    this.#move('dying');
  }

  /** Mark a busy worker to retire once its task ends. */
  retireAfter(reason: ExitReason): void {
    this.#expect('retireAfter', 'busy');
    this.#retireAfterTask ??= reason;
  }

  /** starting | idle → retiring: ask it to run its finalizer and exit; kill it if it takes too long. */
  retire(reason: ExitReason, message: ParentMessage): void {
    this.#expect('retire', 'starting', 'idle');
    this.#exitReason ??= reason;
    this.#clearDeadline();
    this.#move('retiring');
    try {
      this.send(message);
    } catch {
      this.kill(reason);
      return;
    }
    this.#deadline(FINALIZE_GRACE_MS, () => this.kill(reason));
  }

  /**
   * → dying: SIGKILL the whole process tree (`because` of that task, if one).
   * Returns the job it ran, if any. The tasks waiting inside it stay there
   * until its exit: its last messages may say one of them started. Killing a
   * worker already dying or exited does nothing.
   */
  kill(reason: ExitReason, because?: Job): Job | undefined {
    if (this.#state === 'dying' || this.#state === 'exited') return undefined;
    this.#exitReason ??= reason;
    this.#killedFor = because;
    this.#clearDeadline();
    const job = this.#job;
    this.#job = undefined;
    this.#others.length = 0;
    this.#process.kill();
    this.#move('dying');
    return job;
  }

  /** → exited: the process is gone. The jobs it ran, if any, stay readable through `job`/`jobs` during the exit hook. */
  #exited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#state === 'exited') return;
    this.#clearDeadline();
    // The kernel's OOM killer took it (or a process of its tree) at the memory cap.
    if (this.#exitReason === undefined && this.memoryExceeded()) this.#exitReason = 'memoryLimit';
    this.#move('exited');
    this.#hooks.exit(this, code, signal);
    this.#job = undefined;
    this.#others.length = 0;
  }

  #move(to: WorkerState): void {
    const from = this.#state;
    if (!TRANSITIONS[from].includes(to)) {
      throw new Error(`deadpool bug: worker ${this.pid} cannot go from ${from} to ${to}`);
    }
    this.#state = to;
    this.#hooks.transition(this, from, to);
  }

  /**
   * Two states at most, not a rest parameter: it runs twice per task, and an
   * array each time showed in the pool's allocations.
   */
  #expect(what: string, state: WorkerState, or: WorkerState = state): void {
    if (this.#state !== state && this.#state !== or) {
      const allowed = or === state ? state : `${state} or ${or}`;
      throw new Error(
        `deadpool bug: worker ${this.pid} cannot ${what} while ${this.#state} (only while ${allowed})`,
      );
    }
  }

  #deadline(ms: number, onExpire: () => void): void {
    this.#clearDeadline();
    this.#timer = setTimeout(onExpire, ms);
    this.#timer.unref();
  }

  #clearDeadline(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
