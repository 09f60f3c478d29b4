/**
 * A pool's containment: probed once at construction (probe.ts), then the
 * pool's own cgroups, made at its first worker, with one cgroup per worker
 * inside (worker-cgroup.ts). It removes what it made once the processes are
 * gone, and, when it starts, the empty cgroups of pools whose process died
 * without removing theirs (owner.ts). Without kernel containment it makes
 * nothing and hands out no cgroup. Either way its sentinel (sentinel.ts)
 * kills the workers if the pool's process dies.
 */
import { release as kernelRelease } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { debug } from '../debug.js';
import { ContainmentError } from '../../shared/errors.js';
import type { ProcessIdentity } from '../../shared/kill.js';
import { hostFs, type CgroupFs } from './cgroupfs.js';
import { ownerGone, poolName, selfOwner, type Owner } from './owner.js';
import {
  HOW_TO_ENABLE,
  probe,
  type ContainmentInfo,
  type ContainmentMode,
  type HostView,
  type Layout,
} from './probe.js';
import { Sentinel } from './sentinel.js';
import { removeWhenEmpty, WorkerCgroup, type WorkerLimits } from './worker-cgroup.js';

export type { ContainmentInfo, ContainmentMode } from './probe.js';

let poolSeq = 0;

export function hostView(): HostView {
  let selfCgroup = '';
  try {
    selfCgroup = readFileSync('/proc/self/cgroup', 'latin1');
  } catch {
    // not Linux, or no /proc: the probe says so
  }
  return {
    fs: hostFs,
    root: '/sys/fs/cgroup',
    selfCgroup,
    platform: process.platform,
    kernel: kernelRelease(),
    pid: process.pid,
    shell: '/bin/sh',
  };
}

/**
 * Moves of workers into their cgroups under way in this process, every
 * pool's (`enter`); never rejected. The kernel's cgroup lock is one for the
 * host: while any of them waits, a cgroupfs write of any pool would wait too.
 */
const moves = new Set<Promise<void>>();

export class Containment {
  readonly info: ContainmentInfo;
  readonly #layout: Layout | undefined;
  readonly #fs: CgroupFs;
  readonly #limits: WorkerLimits;
  readonly #owner: Owner;
  /** A worker without cgroups is not started (see placeWorker). */
  readonly #strict: boolean;
  /** Why the pool's own cgroups could not be made, if they could not. */
  #poolError = '';
  /** close() was called: nothing more is made (a late start must not bring the pool's cgroups back). */
  #closed = false;
  #pool: { v2: string; memory: string | undefined; pids: string | undefined } | undefined;
  #nextWorker = 1;
  readonly #releases = new Set<Promise<void>>();
  readonly #sentinel: Sentinel;
  readonly #onLost = new Set<() => void>();

  /** Throws ContainmentError when `mode` is 'kernel' (or `maxTaskProcesses` is set) and the host cannot. */
  constructor(mode: ContainmentMode, limits: WorkerLimits, host: HostView = hostView()) {
    const { info, layout } = probe(host, mode);
    if (mode === 'kernel' && info.kind === 'process-group') {
      throw new ContainmentError(
        `containment 'kernel' is not available on this host: ${info.reason}`,
      );
    }
    if (Number.isFinite(limits.maxTaskProcesses) && !info.limits.includes('processes')) {
      const why =
        info.kind === 'process-group'
          ? info.reason
          : `no writable pids controller (cgroup v2 'pids' that can be enabled, or a writable v1 pids hierarchy); ${HOW_TO_ENABLE}`;
      throw new ContainmentError(`maxTaskProcesses needs the kernel's process limit: ${why}`);
    }
    if (mode === 'auto' && info.kind === 'process-group') {
      debug(`containment 'auto' falls back to the process group: ${info.reason}`);
    }
    this.info = info;
    this.#layout = layout;
    this.#fs = host.fs;
    this.#limits = limits;
    this.#owner = selfOwner();
    // Where the kernel was asked for, or enforces a limit, no worker may run outside its cgroups.
    this.#strict =
      mode === 'kernel' ||
      Number.isFinite(limits.maxTaskProcesses) ||
      (Number.isFinite(limits.memoryLimitBytes) && info.limits.includes('memory'));
    this.#sentinel = new Sentinel(() => {
      for (const listener of this.#onLost) listener();
    }, host.shell);
  }

  /**
   * No sentinel guards the workers (none can be started here): each worker
   * must run a watchdog thread of its own.
   */
  get workersNeedWatchdog(): boolean {
    return this.#sentinel.failed;
  }

  /** Call `listener` when no sentinel can be started any more while the pool runs: live workers must start their watchdogs. */
  onSentinelLost(listener: () => void): void {
    this.#onLost.add(listener);
  }

  /** A worker was forked: the sentinel kills its tree if the pool's process dies. */
  watchWorker(worker: ProcessIdentity): void {
    this.#sentinel.watch(worker);
  }

  /** That worker exited. */
  forgetWorker(pid: number): void {
    this.#sentinel.forget(pid);
  }

  /**
   * A new worker's cgroups, created and limited (about 0.2 ms), or undefined
   * without kernel containment. The worker is moved in right after its fork
   * (WorkerCgroup.enter). When the cgroups
   * cannot be made (the kernel refused a directory or a limit after a good
   * probe), the worker runs in its process group under plain `'auto'`; under
   * `'kernel'`, or with `maxTaskProcesses` or a kernel `memoryLimitBytes`,
   * this throws ContainmentError and the worker is not started (the fleet
   * counts a failed start).
   */
  placeWorker(): WorkerCgroup | undefined {
    if (!this.#layout) {
      this.#sentinel.ensure();
      return undefined;
    }
    const pool = this.#ensurePool();
    if (!pool) {
      this.#sentinel.ensure();
      return this.#uncontained(`could not create the pool's cgroups: ${this.#poolError}`);
    }
    this.#sentinel.ensure(
      join(pool.v2, 'cgroup.kill'),
      [pool.v2, pool.memory, pool.pids].filter((d): d is string => d !== undefined),
    );
    const name = `w${this.#nextWorker++}`;
    const memoryV2 = this.#layout.v2Controllers.includes('memory');
    const pidsV2 = this.#layout.v2Controllers.includes('pids');
    const limited = Number.isFinite(this.#limits.maxTaskProcesses);
    const v2 = join(pool.v2, name);
    const cgroup = new WorkerCgroup(
      this.#fs,
      {
        v2,
        memory: memoryV2
          ? { dir: v2, v1: false }
          : pool.memory === undefined
            ? undefined
            : { dir: join(pool.memory, name), v1: true },
        pids: pidsV2 && limited ? v2 : pool.pids === undefined ? undefined : join(pool.pids, name),
      },
      this.#limits,
      this.#outside(pool),
    );
    try {
      cgroup.create();
    } catch (error) {
      void cgroup.release();
      return this.#uncontained(`could not create the cgroups of a worker: ${String(error)}`);
    }
    return cgroup;
  }

  /**
   * Where a process found in a worker's cgroups that is not the pool's goes
   * (WorkerCgroup.enter), by the pool cgroup it is under: the cgroup this
   * process is in, outside the pool's (on a v2-only host its leaf: a cgroup
   * with controllers enabled below it takes no process).
   */
  #outside(pool: {
    v2: string;
    memory: string | undefined;
    pids: string | undefined;
  }): (dir: string) => string {
    const layout = this.#layout!;
    return (dir) =>
      dir.startsWith(`${pool.v2}/`)
        ? (layout.leaf ?? layout.v2Base)
        : dir.startsWith(`${pool.memory}/`)
          ? layout.v1Memory!
          : layout.v1Pids!;
  }

  /** No cgroups for a worker: in its process group under plain 'auto', else ContainmentError. */
  #uncontained(why: string): undefined {
    if (this.#strict)
      throw new ContainmentError(`${why}; a worker runs only inside its cgroups here`);
    debug(`${why}; the worker runs in its process group`);
    return undefined;
  }

  /**
   * SIGKILL everything in a live worker's cgroup (its caller SIGKILLs the
   * worker itself too): at once, unless a worker is being moved in. Then
   * the write would wait for that move's RCU grace period (5–25 ms here)
   * with the event loop stalled and the killed task's future not yet
   * settled, so it goes to libuv's thread pool once the moves are done,
   * when the blocking write would have landed (docs/containment.md, "Moves
   * and the event loop"); and not at all into a cgroup whose own move ended
   * after its worker was reaped, which may hold another process
   * (WorkerCgroup.enter). Returns whether the kill was written now.
   */
  kill(cgroup: WorkerCgroup): boolean {
    if (!this.moving) {
      cgroup.kill();
      return true;
    }
    void this.whenNoMove().then(() => {
      if (!cgroup.mayHoldStranger) cgroup.kill(true);
    });
    return false;
  }

  /**
   * A worker (of any pool in this process) is being moved into its cgroups:
   * any cgroupfs write would wait for it.
   */
  get moving(): boolean {
    return moves.size > 0;
  }

  /** Resolves once no worker is being moved in. */
  async whenNoMove(): Promise<void> {
    while (moves.size > 0) await Promise.all(moves);
  }

  /**
   * Move the just-forked worker `pid` into `cgroup`, off the event loop, as
   * long as it is not `reaped` (WorkerCgroup.enter); removals wait for it (`release`).
   */
  enter(cgroup: WorkerCgroup, pid: number, reaped?: () => boolean): Promise<void> {
    const move = cgroup.enter(pid, reaped);
    const settled = move.then(
      () => {},
      () => {},
    );
    moves.add(settled);
    void settled.then(() => moves.delete(settled));
    return move;
  }

  /**
   * The worker exited: kill what is left in its cgroups at once (if
   * anything is, off the event loop: WorkerCgroup.killRemains), then read
   * their last figures and remove them (~0.6 ms of file reads and rmdirs),
   * on a later turn of the event loop rather than in the exit handler, and
   * once no worker is being moved into its cgroups: an rmdir, like any
   * cgroupfs write, would wait for that move's RCU grace period with the
   * event loop stalled (docs/containment.md, "Moves and the event loop").
   * The exit handler goes straight on to wait for the worker's last output,
   * after which its future settles; whoever reads the figures before the
   * release reads them from the cgroup itself.
   */
  release(cgroup: WorkerCgroup): void {
    cgroup.killRemains();
    const done = this.#noMoveUnderWay().then(() => cgroup.release());
    this.#releases.add(done);
    void done.then(() => this.#releases.delete(done));
  }

  /**
   * A later turn of the event loop at which no worker is being moved in (a
   * replacement forked in the same exit handler has started its move by then).
   */
  async #noMoveUnderWay(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    await this.whenNoMove();
  }

  /** After the last worker exited: wait for their cgroups to go, then remove the pool's own. */
  async close(): Promise<void> {
    this.#closed = true;
    // Every worker has exited: the sentinel has nothing left to guard, and
    // its exit and the cgroups' removal are waited for together.
    await Promise.all([this.#sentinel.stop(), this.#removeCgroups()]);
  }

  async #removeCgroups(): Promise<void> {
    // The removals poll on unref'd timers; whoever awaits shutdown() waits for them.
    const keepAlive = setInterval(() => {}, 1_000);
    try {
      while (this.#releases.size > 0) await Promise.all(this.#releases);
      const pool = this.#pool;
      if (!pool) return;
      this.#pool = undefined;
      const dirs = [pool.v2, pool.memory, pool.pids].filter((d): d is string => d !== undefined);
      await removeWhenEmpty(this.#fs, dirs, () => this.#kill(pool.v2));
    } finally {
      clearInterval(keepAlive);
    }
  }

  #kill(v2: string): void {
    try {
      this.#fs.write(join(v2, 'cgroup.kill'), '1');
    } catch {
      // gone
    }
  }

  /** The pool's own cgroups, made at the first worker. */
  #ensurePool(): { v2: string; memory: string | undefined; pids: string | undefined } | undefined {
    const layout = this.#layout;
    if (!layout) return undefined;
    if (this.#pool) return this.#pool;
    if (this.#closed) {
      this.#poolError = 'the pool is shut down';
      return undefined;
    }
    const fs = this.#fs;
    const name = poolName(this.#owner, ++poolSeq);
    try {
      this.#sweep(layout);
      if (layout.leaf !== undefined) {
        // v2-only, delegated: leave our cgroup for a leaf so controllers can be enabled below it.
        fs.mkdir(layout.leaf);
        fs.write(join(layout.leaf, 'cgroup.procs'), String(process.pid));
      }
      const controllers = layout.v2Controllers.map((c) => `+${c}`).join(' ');
      if (controllers !== '') fs.write(join(layout.v2Base, 'cgroup.subtree_control'), controllers);
      const pool = {
        v2: join(layout.v2Base, name),
        memory: layout.v1Memory === undefined ? undefined : join(layout.v1Memory, name),
        // Only a pool with a process limit needs its workers in a pids cgroup.
        pids:
          layout.v1Pids === undefined || !Number.isFinite(this.#limits.maxTaskProcesses)
            ? undefined
            : join(layout.v1Pids, name),
      };
      fs.mkdir(pool.v2);
      if (controllers !== '') fs.write(join(pool.v2, 'cgroup.subtree_control'), controllers);
      if (pool.memory !== undefined) {
        fs.mkdir(pool.memory);
      }
      if (pool.pids !== undefined) fs.mkdir(pool.pids);
      this.#pool = pool;
      return pool;
    } catch (error) {
      this.#poolError = String(error);
      return undefined;
    }
  }

  /** Remove the cgroups of pools whose owner is gone, killing what was left in them. */
  #sweep(layout: Layout): void {
    const fs = this.#fs;
    for (const base of [layout.v2Base, layout.v1Memory, layout.v1Pids]) {
      if (base === undefined) continue;
      for (const name of fs.subdirs(base)) {
        if (!ownerGone(name, this.#owner)) continue;
        const dir = join(base, name);
        const kill = (): void => {
          if (base === layout.v2Base) this.#kill(dir);
        };
        kill();
        void removeWhenEmpty(fs, [dir], kill);
      }
    }
  }
}
