/**
 * Child side of `future.usage`: the worker counts its tree's CPU time itself
 * and sends the running total with each result; the pool takes the
 * difference between two results (src/parent/worker.ts). Counting here keeps
 * file reads off the pool's event loop, where a /proc or cgroup read per task
 * cost more than the task.
 *
 * The total is the tree's CPU as the kernel counts it (the worker cgroup's
 * `cpu.stat`, or the worker's own time plus its waited-for children's from
 * /proc/self/stat) as of the last reading, plus the CPU of the worker's main
 * thread since (getrusage for the calling thread, a system call without a
 * file, where Node has it: about half the cost of the whole process's, which
 * walks every thread; else the whole process's). A reading is taken at boot,
 * at the end of every task that ran for READ_AFTER_MS or longer, and at the
 * end of the first task READ_EVERY_MS after the reading before: what a
 * shorter task's children and the worker's other threads used is counted at
 * the next reading. docs/containment.md, "future.usage".
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { CgroupBoot } from '../shared/protocol.js';
import { clock } from './clock.js';

/** A task that ran this long (ms, wall time) is followed by a reading of the kernel's figures. */
export const READ_AFTER_MS = 1;
/** And so is the first task to end this long (ms) after the reading before. */
export const READ_EVERY_MS = 1_000;

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times, is 100 on every architecture Node runs on. */
const TICK_US = 10_000;

export class UsageCounter {
  readonly #cgroup: CgroupBoot | undefined;
  /** The tree's CPU (µs) at the last reading, and the main thread's and the process's then. */
  #base = 0;
  #ownAtBase = 0;
  #processAtBase = 0;
  /** `clock()` at the last reading. */
  #readAt = -Infinity;
  /**
   * Peak memory in bytes as of the last reading: the memory cgroup's (v1:
   * since the start of the first task after the reading before; v2: since
   * the worker started), else the worker's own (since it started).
   */
  #peak = 0;
  /** A reading was taken. */
  #read = false;
  /** A v1 peak was read: reset it when the next task starts. */
  #resetPending = false;

  constructor(cgroup: CgroupBoot | undefined) {
    this.#cgroup = cgroup;
  }

  /** The tree's CPU time so far, in µs. */
  total(): number {
    return Math.round(this.#base + thread() - this.#ownAtBase);
  }

  /** A task that ran `ms` ended at `now`: whether the kernel's figures should be read first. */
  due(ms: number, now: number): boolean {
    return ms >= READ_AFTER_MS || now - this.#readAt >= READ_EVERY_MS;
  }

  /** Peak memory in bytes, as of the last reading. */
  get peak(): number {
    return this.#peak;
  }

  /** Read the kernel's figures now. */
  read(): void {
    const mine = own();
    const main = thread();
    this.#readAt = clock();
    const tree = this.#cgroup ? cgroupCpu(this.#cgroup) : procCpu(mine);
    // The first reading sets the scale: a cgroup counts from the worker's move
    // into it, as the pool's figure for a dead worker does; getrusage counts
    // from the process's start. Afterwards, never backwards: /proc counts in
    // 10 ms ticks, getrusage in µs.
    const first = !this.#read;
    this.#read = true;
    // Between readings only the main thread was counted; the whole process's
    // CPU since the reading before is at least that (so the total never goes back).
    const estimate = first ? mine : this.#base + mine - this.#processAtBase;
    this.#base = tree === undefined ? estimate : first ? tree : Math.max(tree, estimate);
    this.#ownAtBase = main;
    this.#processAtBase = mine;
    const peak = this.#cgroup && cgroupPeak(this.#cgroup);
    this.#peak = peak || ownPeak();
    this.#resetPending = peak !== undefined && this.#cgroup?.memoryPeak?.resettable === true;
  }

  /**
   * A task starts: a v1 peak read since is reset now, not at the reading, so
   * that until then the cgroup still shows the peak of the task before (the
   * pool reads it there if the worker is killed before it hears the result).
   */
  taskStarts(): void {
    if (!this.#resetPending) return;
    this.#resetPending = false;
    const file = this.#cgroup?.memoryPeak?.file;
    if (file === undefined) return;
    try {
      writeFileSync(file, '0');
    } catch {
      // the cgroup is gone: the worker is being killed
    }
  }
}

/** This process's CPU time (all its threads), µs. */
function own(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** The calling (main) thread's CPU time, µs; the process's where Node cannot tell (before 22.19). */
const perThread = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage;
const threadUsage: () => NodeJS.CpuUsage = perThread
  ? () => perThread.call(process)
  : () => process.cpuUsage();

function thread(): number {
  const { user, system } = threadUsage();
  return user + system;
}

/** Its peak resident set (VmHWM), bytes. */
function ownPeak(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** Its own CPU and that of the children it waited for, µs. */
function procCpu(mine: number): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // cutime, cstime: fields 16-17
    return mine + (Number(f[13]) + Number(f[14])) * TICK_US;
  } catch {
    return undefined;
  }
}

/** Every process that was ever in the worker's cgroup, µs. */
function cgroupCpu(cgroup: CgroupBoot): number | undefined {
  if (cgroup.cpuStat === undefined) return undefined;
  try {
    const match = /^usage_usec (\d+)/m.exec(readFileSync(cgroup.cpuStat, 'latin1'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The memory cgroup's peak (a v1 one since its last reset: UsageCounter.taskStarts). */
function cgroupPeak(cgroup: CgroupBoot): number | undefined {
  const peak = cgroup.memoryPeak;
  if (peak === undefined) return undefined;
  try {
    return Number(readFileSync(peak.file, 'latin1')) || 0;
  } catch {
    return undefined;
  }
}
