/**
 * A fake machine for the kill helpers' unit tests: processes in a table that
 * stands in for /proc, signals that act on it the way the kernel would
 * (SIGSTOP stops, SIGKILL leaves a zombie, a negative pid means a group), a
 * reap that frees a pid and a spawn that hands the same pid to a newcomer.
 * Every read and signal is logged, so a test can assert what was sent and in
 * which order.
 */
import type { KillHost } from '../../src/shared/kill.js';
import type { ProcStat } from '../../src/shared/proc.js';

export interface FakeProcess {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  start: number;
  state: string;
}

export class FakeMachine implements KillHost {
  readonly table = new Map<number, FakeProcess>();
  /** `SIGKILL -5`, `SIGSTOP 7`, `children 7`... in the order they happened. */
  readonly log: string[] = [];
  #clock = 1_000;
  /** Called after each signal is logged: a test's chance to change the machine mid-kill. */
  afterSend: (pid: number, sig: NodeJS.Signals | 0) => void = () => {};

  readonly proc = {
    available: true,
    stat: (pid: number): ProcStat | undefined => {
      const p = this.table.get(pid);
      return p && { state: p.state, ppid: p.ppid, pgid: p.pgid, sid: p.sid, start: p.start };
    },
    children: (pid: number): number[] => {
      this.log.push(`children ${pid}`);
      return [...this.table.values()].filter((p) => p.ppid === pid).map((p) => p.pid);
    },
    pids: (): number[] => [...this.table.keys()],
  };

  /** A new process with `pid` (a reused one if it was freed), a child of `ppid`; `leader`: in a group of its own. */
  spawn(pid: number, ppid: number, { leader = false } = {}): FakeProcess {
    if (this.table.has(pid)) throw new Error(`pid ${pid} is taken`);
    const parent = this.table.get(ppid);
    const p: FakeProcess = {
      pid,
      ppid,
      pgid: leader ? pid : (parent?.pgid ?? ppid),
      sid: leader ? pid : (parent?.sid ?? ppid),
      start: (this.#clock += 10),
      state: 'S',
    };
    this.table.set(pid, p);
    return p;
  }

  /** The process ends: a zombie until reaped; its children go to pid 1. */
  die(pid: number): void {
    const p = this.table.get(pid);
    if (!p || p.state === 'Z') return;
    p.state = 'Z';
    for (const child of this.table.values()) if (child.ppid === pid) child.ppid = 1;
  }

  /** Its parent reaps it: the pid is free for the next spawn. */
  reap(pid: number): void {
    this.die(pid);
    this.table.delete(pid);
  }

  send(pid: number, sig: NodeJS.Signals | 0): boolean {
    this.log.push(`${sig} ${pid}`);
    const targets =
      pid < 0
        ? [...this.table.values()].filter((p) => p.pgid === -pid)
        : [this.table.get(pid)].filter((p) => p !== undefined);
    if (targets.length === 0) return false;
    for (const p of targets) {
      if (p.state === 'Z') continue;
      if (sig === 'SIGSTOP') p.state = 'T';
      if (sig === 'SIGKILL') this.die(p.pid);
    }
    this.afterSend(pid, sig);
    return true;
  }

  /** The signals (not the probes) sent to `pid` (negative: its group). */
  sentTo(pid: number): string[] {
    return this.log.filter(
      (line) => line.endsWith(` ${pid}`) && !line.startsWith('0 ') && !line.startsWith('children'),
    );
  }

  /** Every SIGKILL sent, as `SIGKILL <pid>` lines. */
  kills(): string[] {
    return this.log.filter((line) => line.startsWith('SIGKILL'));
  }
}
