// Process inspection through /proc (Linux): children, descendants, liveness.
import { readFileSync, readdirSync } from 'node:fs';

/** Fields of /proc/<pid>/stat after the command name, or undefined if gone. */
function stat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      state: rest[0],
      ppid: Number(rest[1]),
      pgid: Number(rest[2]),
      start: Number(rest[19]),
    };
  } catch {
    return undefined;
  }
}

/** True while `pid` exists and is not a zombie. */
export function isRunning(pid) {
  const s = stat(pid);
  return s !== undefined && s.state !== 'Z';
}

/** Direct children of `pid` (all its threads). */
export function childrenOf(pid) {
  const out = [];
  let tids;
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(' ').map(Number));
    } catch {
      // thread gone
    }
  }
  return out;
}

/** Every descendant of `pid`, breadth first. */
export function descendantsOf(pid) {
  const out = [];
  const queue = childrenOf(pid);
  while (queue.length > 0) {
    const p = queue.shift();
    out.push(p);
    queue.push(...childrenOf(p));
  }
  return out;
}

/** This process and its ancestors. */
function selfAndAncestors() {
  const out = new Set();
  for (let pid = process.pid; pid > 1 && !out.has(pid); pid = stat(pid)?.ppid ?? 1) out.add(pid);
  return out;
}

/** Live processes, other than us and our ancestors, whose environment holds `KEY=value`. */
export function processesWithEnv(key, value) {
  const needle = `${key}=${value}`;
  const skip = selfAndAncestors();
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || skip.has(Number(name))) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, 'latin1').split('\0');
      if (env.includes(needle) && isRunning(Number(name))) out.push(Number(name));
    } catch {
      // gone or not ours
    }
  }
  return out;
}

/** Live processes in process group `pgid`. */
export function processesInGroup(pgid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(name);
    if (s && s.pgid === pgid && s.state !== 'Z') out.push(Number(name));
  }
  return out;
}

/** Resident set size of `pid` in bytes, from /proc/<pid>/statm. */
export function rssOf(pid) {
  try {
    const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    return pages * 4096;
  } catch {
    return 0;
  }
}

/** `{ pid, start }` of each pid still there: who it is now (its start time), to kill it later. */
export function identities(pids) {
  return pids.flatMap((pid) => {
    const s = stat(pid);
    return s ? [{ pid, start: s.start }] : [];
  });
}

/**
 * SIGKILL each of `ids` that is still that very process (same start time,
 * checked right before): a pid freed since it was found may be anyone's now
 * (pid_max can be 32,768). Returns the pids signalled.
 */
export function killIdentities(ids) {
  const out = [];
  for (const { pid, start } of ids) {
    if (stat(pid)?.start !== start) continue;
    try {
      process.kill(pid, 'SIGKILL');
      out.push(pid);
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * SIGKILL `pid` only if it is a live child of this process: it cannot be
 * reaped (and its pid reused) but by this thread, so /proc names it. Returns
 * whether the signal was sent.
 */
export function killChild(pid) {
  const s = stat(pid);
  if (!s || s.ppid !== process.pid || s.state === 'Z') return false;
  process.kill(pid, 'SIGKILL');
  return true;
}

/** True while `id` (`{ pid, start }`) still names a running process (not a zombie, not a later one). */
export function isStillRunning({ pid, start }) {
  const s = stat(pid);
  return s !== undefined && s.state !== 'Z' && s.start === start;
}
