/**
 * The pool's decisions, as pure functions of what they look at: why a worker
 * retires, how many workers are wanted, how long to back off, which idle
 * workers expire. No state, no timers, no processes: the fleet and the engine
 * gather the facts and carry the decision out. Each has a table of tests
 * (test/unit-policy.test.ts).
 */
import type { ExitReason } from './events.js';

export interface AfterTaskFacts {
  /** A reason set while the task ran (`recycleWorkers()`, `resize()`), if any. */
  marked: ExitReason | undefined;
  tasksRun: number;
  maxTasksPerChild: number;
  /** The worker's RSS reported with the result, in bytes (0 when not reported). */
  rss: number;
  maxWorkerMemoryBytes: number;
  /** The worker was started before the last `recycleWorkers()`. */
  stale: boolean;
  closing: boolean;
  /** Tasks waiting in the backlog. */
  waiting: number;
  /** Workers alive and not on their way out, this one included. */
  staying: number;
  maxWorkers: number;
}

/**
 * Why a worker that just finished a task leaves, or `undefined` if it stays.
 * The first that applies wins, in this order: a reason set while it ran,
 * `maxTasks`, `memory`, `recycle`, `shutdown` (closing with nothing waiting),
 * `idle` (more workers than `maxWorkers` after a `resize()`).
 */
export function retireAfterTask(f: AfterTaskFacts): ExitReason | undefined {
  if (f.marked !== undefined) return f.marked;
  if (f.tasksRun >= f.maxTasksPerChild) return 'maxTasks';
  if (f.rss >= f.maxWorkerMemoryBytes) return 'memory';
  if (f.stale) return 'recycle';
  if (f.closing && f.waiting === 0) return 'shutdown';
  if (f.staying > f.maxWorkers) return 'idle';
  return undefined;
}

/** Why a worker that just became ready leaves at once, or `undefined` if it takes work. */
export function retireWhenReady(f: {
  closing: boolean;
  waiting: number;
  stale: boolean;
}): ExitReason | undefined {
  if (f.closing && f.waiting === 0) return 'shutdown';
  if (f.stale) return 'recycle';
  return undefined;
}

/**
 * While shutting down with nothing waiting, an idle worker retires and one
 * still starting is killed (it would have no work); otherwise both stay.
 * `hurry` (a shutdown that neither waits nor keeps futures, with no finalizer
 * to run): an idle worker is killed too, as the busy ones are, instead of
 * exiting on its own, which costs a Node process its whole teardown.
 */
export function windDown(f: {
  state: 'starting' | 'idle';
  closing: boolean;
  waiting: number;
  hurry?: boolean;
}): 'retire' | 'kill' | undefined {
  if (!f.closing || f.waiting > 0) return undefined;
  return f.state === 'idle' && f.hurry !== true ? 'retire' : 'kill';
}

/**
 * The demand in workers: each busy worker, and for the tasks no worker has
 * taken, as many workers as can take them (`perWorker` tasks each, with
 * `concurrentTasksPerWorker`), not one per task.
 */
export function workerDemand(f: { busy: number; unassigned: number; perWorker: number }): number {
  return f.busy + Math.ceil(f.unassigned / f.perWorker);
}

/**
 * Workers wanted now: enough for the demand (tasks running or waiting),
 * within the bounds; while closing, no more than the demand.
 */
export function workersWanted(f: {
  demand: number;
  minWorkers: number;
  maxWorkers: number;
  closing: boolean;
}): number {
  const floor = f.closing ? 0 : f.minWorkers;
  return Math.min(Math.max(f.demand, floor), f.maxWorkers);
}

export const BACKOFF_BASE_MS = 100;
export const BACKOFF_CAP_MS = 5_000;
/** Start failures in a row after which waiting tasks fail with WorkerStartError. */
export const MAX_START_FAILURES = 5;

/** Milliseconds to wait before the next start after `failures` failed starts in a row. */
export function backoffDelay(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(BACKOFF_BASE_MS * 2 ** (failures - 1), BACKOFF_CAP_MS);
}

/**
 * What to do about missing workers: start `spawn` of them now, or, while
 * starts fail, one after `delay` ms (and none while another is starting).
 */
export function spawnPlan(f: { wanted: number; staying: number; startFailures: number }): {
  spawn: number;
  delay: number;
} {
  const missing = Math.max(0, f.wanted - f.staying);
  if (missing === 0) return { spawn: 0, delay: 0 };
  if (f.startFailures > 0) return { spawn: 1, delay: backoffDelay(f.startFailures) };
  return { spawn: missing, delay: 0 };
}

export interface IdleWorkerFacts {
  /** `performance.now()` when it became idle. */
  idleSince: number;
}

/**
 * Idle workers to retire for having idled `idleTimeout` ms, oldest first,
 * without going below `minWorkers`; and when to look again (ms, or
 * `undefined` when no idle worker above the minimum is left).
 */
export function expiredIdle<W extends IdleWorkerFacts>(f: {
  idle: readonly W[];
  now: number;
  idleTimeout: number;
  staying: number;
  minWorkers: number;
}): { retire: W[]; nextCheck: number | undefined } {
  // 1 ms of slack: a timer may fire a hair early.
  const expired = f.idle.filter((w) => f.now - w.idleSince >= f.idleTimeout - 1);
  expired.sort((a, b) => a.idleSince - b.idleSince);
  const room = Math.max(0, f.staying - f.minWorkers);
  const retire = expired.slice(0, room);
  const left = f.idle.filter((w) => !retire.includes(w));
  const staying = f.staying - retire.length;
  if (left.length === 0 || staying <= f.minWorkers) return { retire, nextCheck: undefined };
  const oldest = Math.min(...left.map((w) => w.idleSince));
  return { retire, nextCheck: Math.max(1, oldest + f.idleTimeout - f.now) };
}

/** A worker that sat idle longer than this confirms a hand-off before the task counts as started. */
export const IDLE_ACK_MS = 1;

/**
 * How a task is handed to a worker: `'run'` counts as started at once;
 * `'ack'` waits for the worker's word (it sat idle and may have died unseen);
 * `'load'` also waits for its module to be imported, under `startTimeout`
 * instead of the task's own timeout.
 */
export function handOff(f: { needsImport: boolean; idleForMs: number }): 'run' | 'ack' | 'load' {
  if (f.needsImport) return 'load';
  return f.idleForMs > IDLE_ACK_MS ? 'ack' : 'run';
}

/** Recent tasks shorter than this, on average, are short enough to queue inside busy workers. */
export const SHORT_TASK_MS = 5;
/** How much work, in ms of recent run time, to keep queued inside each busy worker. */
export const PIPELINE_MS = 2;
/** Most tasks queued inside one worker. */
export const MAX_PIPELINE_DEPTH = 64;
/** A task whose timeout is shorter than this is never queued inside a busy worker. */
export const GENEROUS_TIMEOUT_MS = 1_000;

/**
 * How many tasks to keep queued inside each busy worker, from the average run
 * time of recent tasks: none while they are long or unknown; otherwise enough
 * to cover PIPELINE_MS of work, at least 1 and at most MAX_PIPELINE_DEPTH.
 */
export function pipelineDepth(avgRunMs: number | undefined): number {
  if (avgRunMs === undefined || !(avgRunMs < SHORT_TASK_MS)) return 0;
  const depth = Math.ceil(PIPELINE_MS / Math.max(avgRunMs, 0.001));
  return Math.min(MAX_PIPELINE_DEPTH, Math.max(1, depth));
}

/**
 * Room to fill in a worker that holds `queued` tasks of `depth`: none while
 * it holds more than half, else all of it. A worker is refilled in batches,
 * half its depth in one message, not a task per message after each result:
 * each message is a write that wakes the worker, the largest cost of a tiny
 * task. The worker never runs dry (half its depth is left when it is
 * refilled); a task that must overtake those queued is sent at once all the
 * same (pipeline.ts).
 *
 * None either behind a task that has run longer than SHORT_TASK_MS
 * (`runningForMs`): it turned out long, and a task queued behind it could
 * not be taken back while it runs synchronously (the worker reads no
 * message then), however soon another worker is free.
 */
export function refillRoom(room: number, queued: number, depth: number, runningForMs = 0): number {
  if (runningForMs > SHORT_TASK_MS) return 0;
  return queued > depth / 2 ? 0 : room;
}

/**
 * How many of the tasks waiting inside a busy worker to take back when
 * another worker goes idle with nothing left in the backlog: all of them if
 * the running task has turned out long (they would wait for it while a worker
 * sits idle); else the later half, so the two share what is left.
 */
export function tasksToSteal(f: { queued: number; runningForMs: number }): number {
  if (f.runningForMs > SHORT_TASK_MS) return f.queued;
  return Math.floor(f.queued / 2);
}

/**
 * Whether a task may wait inside a busy worker: its module must be loaded
 * there (the first import is kept off the clock by a confirmation); its
 * timeout, if any, generous (its clock starts when the worker reports the
 * start, a message later than the start itself); and, unless its priority is
 * 0, no other task of a priority other than 0 may wait there already.
 */
export function pipelinable(f: {
  needsImport: boolean;
  timeout: number | undefined;
  priority: number;
  /** Tasks of a priority other than 0 already waiting inside that worker. */
  lowerQueued: number;
}): boolean {
  if (f.needsImport) return false;
  if (f.timeout !== undefined && f.timeout < GENEROUS_TIMEOUT_MS) return false;
  // No task can come before priority 0; a task of any other priority may be
  // overtaken by a later one, which must then wait behind at most one of them.
  return f.priority === 0 || f.lowerQueued === 0;
}

/**
 * Room for more tasks inside a busy worker: up to `depth` waiting, none once
 * it is marked to retire, was started before the last recycle, or would
 * reach maxTasksPerChild with what it already has (the running task and
 * those waiting). Tasks waiting behind one that turns out long are taken back
 * when another worker goes idle (tasksToSteal).
 */
export function queueRoom(f: {
  depth: number;
  queued: number;
  tasksRun: number;
  maxTasksPerChild: number;
  marked: boolean;
  stale: boolean;
}): number {
  if (f.marked || f.stale) return 0;
  const byTasks = f.maxTasksPerChild - f.tasksRun - 1 - f.queued;
  return Math.max(0, Math.min(f.depth - f.queued, byTasks));
}
