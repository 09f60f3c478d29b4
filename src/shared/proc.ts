/**
 * Reading processes from /proc (Linux): the fields of one process's `stat`
 * that prove who it is (its start time) and where it sits (parent, group,
 * session), its children, and every pid. Nothing here sends a signal; the
 * kill helpers (kill.ts) take a {@link ProcReader} so their tests can hand
 * them a fake /proc in which pids are reused.
 *
 * Files are read with open/read/close (readFileSync also stats, and reads
 * once more to see the end, as procfs reports size 0): kills read a few per
 * process.
 */
import {
  accessSync,
  closeSync,
  constants,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
} from 'node:fs';

/** What /proc/<pid>/stat says about a process. */
export interface ProcStat {
  /** `R`, `S`, `D`, `T`, `Z` (zombie: dead, not yet reaped)... */
  readonly state: string;
  readonly ppid: number;
  /** Process group id. */
  readonly pgid: number;
  /** Session id. */
  readonly sid: number;
  /**
   * Clock ticks after boot at which it started. With the pid, it names one
   * process for the machine's uptime: a reused pid has a later start time.
   */
  readonly start: number;
}

/** Where the kill helpers read processes from. */
export interface ProcReader {
  /** False where there is no /proc (macOS): nothing can be checked. */
  readonly available: boolean;
  /** The stat of `pid`, or undefined when no process has that pid. */
  stat(pid: number): ProcStat | undefined;
  /** The children of `pid` (of all its threads). */
  children(pid: number): number[];
  /** Every pid on the machine (in this pid namespace). */
  pids(): number[];
}

function canRead(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * /proc shows this process's pid namespace: in a pid namespace whose /proc
 * was mounted for another (`unshare --pid --fork` without `--mount-proc`),
 * /proc/<pid> is another process than `pid` here, and `ps` reads the same
 * /proc. Then nothing in it is a proof of anything (docs/signals.md).
 */
function ownProc(): boolean {
  try {
    return readlinkSync('/proc/self') === String(process.pid);
  } catch {
    return false;
  }
}

const procMounted = process.platform === 'linux' && canRead('/proc/self/stat');
const hasProc = procMounted && ownProc();
/** There is a /proc, but another pid namespace's: neither it nor `ps` may name a process. */
export const foreignProc = procMounted && !hasProc;
/**
 * /proc/<pid>/task/<tid>/children lists a thread's children: reading it for
 * a tree touches only the tree, where a full scan reads every process's stat
 * (milliseconds on a busy machine). Needs CONFIG_PROC_CHILDREN, so checked.
 */
const hasChildrenFiles = hasProc && canRead(`/proc/self/task/${process.pid}/children`);

/** Reused by readSmall: /proc files are read in one or a few reads. */
let scratch: Buffer | undefined;

/** A small /proc file as latin1 text, or undefined when it cannot be opened. */
function readSmall(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    scratch ??= Buffer.allocUnsafe(4096);
    let text = '';
    for (;;) {
      const n = readSync(fd, scratch, 0, scratch.length, null);
      text += scratch.toString('latin1', 0, n);
      // procfs hands out a file like this in one read unless it fills the buffer
      if (n < scratch.length) return text;
    }
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Parses the text of /proc/<pid>/stat (the command name may hold spaces and parentheses). */
export function parseStat(text: string): ProcStat | undefined {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ', 20);
  const start = Number(fields[19]);
  if (fields.length < 20 || !Number.isFinite(start)) return undefined;
  return {
    state: fields[0]!,
    ppid: Number(fields[1]),
    pgid: Number(fields[2]),
    sid: Number(fields[3]),
    start,
  };
}

function stat(pid: number): ProcStat | undefined {
  if (!hasProc) return undefined;
  const text = readSmall(`/proc/${pid}/stat`);
  return text === undefined ? undefined : parseStat(text);
}

function pids(): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const entry of entries) {
    const code = entry.charCodeAt(0);
    if (code >= 48 && code <= 57) out.push(Number(entry));
  }
  return out;
}

function children(pid: number): number[] {
  if (!hasProc) return [];
  if (!hasChildrenFiles) return pids().filter((p) => stat(p)?.ppid === pid);
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tids) {
    const text = readSmall(`/proc/${pid}/task/${tid}/children`);
    if (text === undefined) continue;
    for (const field of text.split(' ')) if (field !== '') out.push(Number(field));
  }
  return out;
}

/** The machine's /proc. */
export const proc: ProcReader = { available: hasProc, stat, children, pids };

/** Parent pid of `pid` from /proc, or undefined when it is gone. */
export function readPpid(pid: number | 'self'): number | undefined {
  return stat(pid === 'self' ? process.pid : pid)?.ppid;
}
