/**
 * The cgroups of one worker: a v2 cgroup (killed as one with cgroup.kill,
 * CPU counted in cpu.stat), and the memory and pids cgroups that carry its
 * limits (the same v2 cgroup on v2-only hosts, v1 ones on hybrid hosts).
 * This side creates, limits, moves the worker in (right after its fork, off
 * the event loop), measures, kills and removes.
 */
import { dirname, join } from 'node:path';
import type { CgroupBoot } from '../../shared/protocol.js';
import { keyed, removeTree, type CgroupFs } from './cgroupfs.js';

export interface WorkerDirs {
  readonly v2: string;
  /** Its memory cgroup: `v2` itself on v2-only hosts, a v1 one on hybrid hosts. */
  readonly memory: { readonly dir: string; readonly v1: boolean } | undefined;
  readonly pids: string | undefined;
}

export interface WorkerLimits {
  readonly memoryLimitBytes: number;
  readonly maxTaskProcesses: number;
}

/** How long a killed worker's cgroups may take to empty before they are left for a later pool. */
const RELEASE_LIMIT_MS = 5_000;
const RELEASE_POLL_MS = 5;

export class WorkerCgroup {
  readonly dirs: WorkerDirs;
  readonly #fs: CgroupFs;
  readonly #limits: WorkerLimits;
  /** Figures read just before the cgroups were removed. */
  #final: { cpu: number; oom: number; peak: number } | undefined;
  #released: Promise<void> | undefined;
  /** A move into it is under way (enter). */
  #entering = false;
  /**
   * A move into it ended after its worker was reaped: the kernel may have
   * read the pid once it belonged to another process (enter), so what is in
   * it is moved out, never killed (release).
   */
  #mayHoldStranger = false;

  /** The cgroup outside the pool's that a process found in `dir` of its is moved to (#evict). */
  readonly #outside: (dir: string) => string;

  constructor(
    fs: CgroupFs,
    dirs: WorkerDirs,
    limits: WorkerLimits,
    outside: (dir: string) => string = (dir) => dirname(dirname(dir)),
  ) {
    this.#fs = fs;
    this.dirs = dirs;
    this.#limits = limits;
    this.#outside = outside;
  }

  /** Create the cgroups and write the memory limit; throws when a write fails. */
  create(): void {
    const { v2, memory, pids } = this.dirs;
    const fs = this.#fs;
    fs.mkdir(v2);
    if (memory?.v1) fs.mkdir(memory.dir);
    if (pids !== undefined && pids !== v2) fs.mkdir(pids);
    const limit = this.#limits.memoryLimitBytes;
    if (memory && Number.isFinite(limit)) {
      if (memory.v1) {
        fs.write(join(memory.dir, 'memory.limit_in_bytes'), String(limit));
        const memsw = join(memory.dir, 'memory.memsw.limit_in_bytes');
        if (fs.exists(memsw)) fs.write(memsw, String(limit)); // no swapping past the cap
      } else {
        fs.write(join(memory.dir, 'memory.max'), String(limit));
        const swap = join(memory.dir, 'memory.swap.max');
        if (fs.exists(swap)) fs.write(swap, '0');
        fs.write(join(memory.dir, 'memory.oom.group'), '1'); // the whole tree dies together
      }
    }
  }

  /**
   * Move the just-forked worker `pid` (all its threads) into its cgroups, on
   * libuv's thread pool: the kernel can make a move wait for an RCU grace
   * period (5–25 ms here, docs/containment.md), which the worker spends
   * booting Node meanwhile. Rejects when the kernel refuses. The pool sends
   * the worker nothing before this is done, so none of its tasks' code runs
   * outside.
   *
   * A pid names the worker only until the pool reaps it (`reaped`), and the
   * kernel reads the pid when the write gets its turn, which can be long
   * after it was asked for (a busy thread pool, the grace period). So no
   * write is asked for once the worker is reaped, and one that ends after
   * that may have moved another process in: then the move rejects with
   * ESRCH and what is in the cgroups is moved out at release, not killed.
   */
  async enter(pid: number, reaped: () => boolean = () => false): Promise<void> {
    const { v2, memory, pids } = this.dirs;
    const files = [join(v2, 'cgroup.procs')];
    if (memory?.v1) files.push(join(memory.dir, 'cgroup.procs'));
    if (pids !== undefined && pids !== v2) files.push(join(pids, 'cgroup.procs'));
    this.#entering = true;
    try {
      for (const file of files) {
        if (reaped()) throw workerGone(pid);
        await this.#fs.writeAsync(file, String(pid));
        if (reaped()) {
          this.#mayHoldStranger = true;
          throw workerGone(pid);
        }
      }
    } finally {
      this.#entering = false;
    }
  }

  /**
   * What the worker needs to set its process limit once it knows its
   * threads, to count what its tasks use, and to kill its cgroup when the
   * pool is gone.
   */
  boot(): CgroupBoot {
    const { v2, memory, pids } = this.dirs;
    const boot: CgroupBoot = {
      kill: join(v2, 'cgroup.kill'),
      cpuStat: join(v2, 'cpu.stat'),
    };
    if (memory) {
      boot.memoryPeak = memory.v1
        ? { file: join(memory.dir, 'memory.max_usage_in_bytes'), resettable: true }
        : { file: join(memory.dir, 'memory.peak'), resettable: false };
    }
    if (pids !== undefined && Number.isFinite(this.#limits.maxTaskProcesses)) {
      boot.pidsMax = join(pids, 'pids.max');
      boot.processes = this.#limits.maxTaskProcesses;
    }
    return boot;
  }

  /**
   * SIGKILL every process in it, atomically (a fork during the kill is
   * killed too): now, or with `offLoop` on libuv's thread pool, where the
   * write may wait on the kernel without holding the event loop
   * (Containment.kill, killRemains).
   */
  kill(offLoop = false): void {
    const file = join(this.dirs.v2, 'cgroup.kill');
    if (offLoop) {
      this.#fs.writeAsync(file, '1').catch(() => {
        // already removed
      });
      return;
    }
    try {
      this.#fs.write(file, '1');
    } catch {
      // already removed
    }
  }

  /** A move into it ended after its worker was reaped: what is in it may not be the pool's (enter). */
  get mayHoldStranger(): boolean {
    return this.#mayHoldStranger;
  }

  /** A process is still in it (v2 `cgroup.events`; true when that cannot be read). */
  populated(): boolean {
    return keyed(this.#fs.read(join(this.dirs.v2, 'cgroup.events')), 'populated') !== 0;
  }

  /**
   * Its worker exited: kill what is left in it, if anything is, on libuv's
   * thread pool. A cgroupfs write waits for any move in flight (the kernel
   * holds its cgroup mutex through the move's RCU grace period, 8–20 ms
   * here): on the event loop it stalled the pool's process that long each
   * time a worker died while its replacement was being moved in
   * (docs/containment.md, "Moves and the event loop").
   */
  killRemains(): void {
    // A move still under way, or one that may have moved in another process: release's.
    if (this.#entering || this.#mayHoldStranger) return;
    if (this.populated()) this.kill(true);
  }

  /** OOM kills the kernel made in it so far (counted only under a memory cap: no cap, no OOM of its own). */
  oomKills(): number {
    if (this.#final) return this.#final.oom;
    const memory = this.dirs.memory;
    if (!memory || !Number.isFinite(this.#limits.memoryLimitBytes)) return 0;
    const text = memory.v1
      ? this.#fs.read(join(memory.dir, 'memory.oom_control'))
      : this.#fs.read(join(memory.dir, 'memory.events'));
    return keyed(text, 'oom_kill') ?? 0;
  }

  /**
   * The kernel OOM-killed a process of it. Any OOM kill ends the worker (the
   * pool kills what the kernel left), so one ever means one during the task
   * that runs.
   */
  memoryExceeded(): boolean {
    return this.oomKills() > 0;
  }

  /** CPU time of every process that was ever in it, in microseconds. */
  cpu(): number {
    if (this.#final) return this.#final.cpu;
    return keyed(this.#fs.read(join(this.dirs.v2, 'cpu.stat')), 'usage_usec') ?? 0;
  }

  /** Its memory peak in bytes (v1: since the worker last reset it, src/child/usage.ts; v2: since it was made). */
  peak(): number {
    if (this.#final) return this.#final.peak;
    const memory = this.dirs.memory;
    if (!memory) return 0;
    const file = memory.v1 ? 'memory.max_usage_in_bytes' : 'memory.peak';
    return Number(this.#fs.read(join(memory.dir, file)) ?? 0) || 0;
  }

  /**
   * The worker exited (and Containment.release killed what was left, a turn
   * before): keep its last figures, and remove its cgroups once they are
   * empty, killing again what is still in them before each retry. Resolves
   * when they are gone (or, after RELEASE_LIMIT_MS, left for a later pool to
   * remove).
   */
  release(): Promise<void> {
    if (this.#released) return this.#released;
    this.#final = { cpu: this.cpu(), oom: this.oomKills(), peak: this.peak() };
    const dirs = [this.dirs.v2];
    if (this.dirs.memory?.v1) dirs.push(this.dirs.memory.dir);
    if (this.dirs.pids !== undefined && this.dirs.pids !== this.dirs.v2) dirs.push(this.dirs.pids);
    this.#released = this.#mayHoldStranger
      ? this.#evict(dirs).then(() => removeWhenEmpty(this.#fs, dirs, () => void this.#evict(dirs)))
      : removeWhenEmpty(this.#fs, dirs, () => this.killRemains());
    return this.#released;
  }

  /**
   * Move every process in `dirs` out, each to the cgroup the pool's process
   * is in (outside the pool's, whose kill would reach it): a process a late
   * move took in is not the pool's to kill (enter).
   */
  async #evict(dirs: readonly string[]): Promise<void> {
    for (const dir of dirs) {
      const procs = this.#fs.read(join(dir, 'cgroup.procs'));
      for (const pid of (procs ?? '').split('\n').filter(Boolean)) {
        try {
          await this.#fs.writeAsync(join(this.#outside(dir), 'cgroup.procs'), pid);
        } catch {
          // gone meanwhile
        }
      }
    }
  }
}

/** A move asked for a worker that was reaped: its pid may be another process's. */
function workerGone(pid: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`worker ${pid} exited before its move into its cgroups ended`), {
    code: 'ESRCH',
  });
}

/** Remove `dirs` (and what is nested in them), retrying while they are busy; `again` before each retry. */
export function removeWhenEmpty(fs: CgroupFs, dirs: string[], again: () => void): Promise<void> {
  const deadline = performance.now() + RELEASE_LIMIT_MS;
  let left = dirs.filter((dir) => !removeTree(fs, dir));
  if (left.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const retry = (): void => {
      again();
      left = left.filter((dir) => !removeTree(fs, dir));
      if (left.length === 0 || performance.now() > deadline) resolve();
      else setTimeout(retry, RELEASE_POLL_MS).unref();
    };
    setTimeout(retry, RELEASE_POLL_MS).unref();
  });
}
