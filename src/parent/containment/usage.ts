/**
 * What a task used: CPU time and peak memory. The worker counts them and
 * sends its tree's running CPU total with each result (src/child/usage.ts);
 * a task's figure is the difference from the result before it. A task whose
 * worker died is counted from the kernel's last figures for the tree: its
 * cgroup's, or the worker's /proc/<pid>/stat read just before the pool
 * killed it.
 */
import { readFileSync } from 'node:fs';
import type { Usage } from '../../shared/protocol.js';

/** `future.usage`: what a task's run used, counting what it started where contained. */
export interface TaskUsage {
  /** CPU time (user + system) in milliseconds. */
  readonly cpuTimeMs: number;
  /** Peak memory in bytes. */
  readonly peakMemoryBytes: number;
}

export const NO_USAGE: TaskUsage = Object.freeze({ cpuTimeMs: 0, peakMemoryBytes: 0 });

/** One worker's running totals, as its messages report them. */
export class UsageTally {
  /** The tree's CPU total (µs) at the last message that carried it. */
  #cpu = 0;
  #peak = 0;

  /** A result (or 'ready') came: what ran since the message before it used. */
  add(usage: Usage): TaskUsage {
    const cpu = Math.max(0, usage.cpu - this.#cpu);
    this.#cpu = Math.max(this.#cpu, usage.cpu);
    if (usage.peak !== undefined) this.#peak = usage.peak;
    return { cpuTimeMs: cpu / 1000, peakMemoryBytes: this.#peak };
  }

  /**
   * The worker died during a task: what the task used, from the tree's CPU
   * total then (`cpu`, µs, if it could be read) and its peak memory (if known).
   */
  final(cpu: number | undefined, peak: number | undefined): TaskUsage {
    return {
      cpuTimeMs: cpu === undefined ? 0 : Math.max(0, cpu - this.#cpu) / 1000,
      peakMemoryBytes: peak || this.#peak,
    };
  }
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times, is 100 on every architecture Node runs on. */
const TICK_US = 10_000;

/**
 * A live worker's CPU time and that of the children it waited for, µs, from
 * /proc/<pid>/stat. Call only while the worker is the pool's unreaped child.
 */
export function procTreeCpu(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime: fields 14-17
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * TICK_US;
  } catch {
    return undefined;
  }
}
