/**
 * What a task used: CPU time and peak memory. With cgroups the kernel counts
 * every process of the worker's tree (worker-cgroup.ts); without, these are
 * the worker's own figures from /proc (its CPU time and that of the children
 * it reaped, its peak resident memory).
 */
import { readFileSync } from 'node:fs';

/** `future.usage`: what a task's run used, counting what it started where contained. */
export interface TaskUsage {
  /** CPU time (user + system) in milliseconds. */
  readonly cpuTimeMs: number;
  /** Peak memory in bytes. */
  readonly peakMemoryBytes: number;
}

export const NO_USAGE: TaskUsage = Object.freeze({ cpuTimeMs: 0, peakMemoryBytes: 0 });

/** Measures one worker, a task at a time. */
export interface Meter {
  /** A task starts: figures count from now. */
  mark(): void;
  /** Since the last mark. */
  read(): TaskUsage;
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times, is 100 on every architecture Node runs on. */
const TICK_MS = 10;

/** The worker's own figures: /proc/<pid>/stat times (its reaped children's included) and VmHWM. */
export class ProcMeter implements Meter {
  readonly #pid: number;
  #cpuAtMark = 0;
  #last: TaskUsage = NO_USAGE;

  constructor(pid: number) {
    this.#pid = pid;
  }

  mark(): void {
    this.#cpuAtMark = this.#cpu() ?? this.#cpuAtMark;
  }

  read(): TaskUsage {
    const cpu = this.#cpu();
    if (cpu === undefined) return this.#last;
    this.#last = {
      cpuTimeMs: Math.max(0, cpu - this.#cpuAtMark),
      peakMemoryBytes: this.#peak() ?? this.#last.peakMemoryBytes,
    };
    return this.#last;
  }

  #cpu(): number | undefined {
    try {
      const stat = readFileSync(`/proc/${this.#pid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime, stime, cutime, cstime: fields 14-17
      return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * TICK_MS;
    } catch {
      return undefined;
    }
  }

  #peak(): number | undefined {
    try {
      const status = readFileSync(`/proc/${this.#pid}/status`, 'latin1');
      const kb = /^VmHWM:\s+(\d+)/m.exec(status)?.[1];
      return kb === undefined ? undefined : Number(kb) * 1024;
    } catch {
      return undefined;
    }
  }
}
