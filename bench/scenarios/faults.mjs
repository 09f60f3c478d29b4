// Fault and shutdown scenarios: a 200 ms timeout on an endless loop, an
// external SIGKILL of a busy worker, and shutdown() of an idle pool. Times
// come from /proc (a pid is gone when missing or a zombie), polled every 1 ms.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childrenOf, descendantsOf, isRunning, killChild } from '../lib/procs.mjs';
import { now, since } from '../lib/stats.mjs';
import { bounded, pollUntil, watch } from '../lib/wait.mjs';

export async function timeout(create, { params }) {
  const ms = params.timeout ?? 200;
  const a = await create({ workers: 2, timeout: ms, callsPerWorker: 1 });
  if (!a.timeoutSupport) return { a, result: { value: 'n/a', unit: 'ms' } };
  return { a, result: await faultRun(a, 'timeout', ms, params.bound ?? 2000) };
}

export async function kill(create, { params }) {
  const a = await create({ workers: 2, callsPerWorker: 1 });
  return { a, result: await faultRun(a, 'kill', 0, params.bound ?? 2000) };
}

/**
 * The pid a task wrote to `marker`, once it has (bounded), or undefined. The
 * file exists, empty, a moment before the pid is in it: an empty read is
 * Number('') = 0, and SIGKILL to pid 0 would take this whole process group
 * down (it did, on a loaded machine). Only a positive integer counts.
 */
async function pidFrom(marker, bound) {
  let pid;
  await pollUntil(() => {
    try {
      const text = readFileSync(marker, 'utf8');
      if (/^\d+$/.test(text) && Number(text) > 0) pid = Number(text);
    } catch {
      // not there yet
    }
    return pid !== undefined;
  }, bound);
  return pid;
}

/**
 * Holds one worker (the `hold` task blocks it until a release file appears),
 * submits `forever` (writes its pid to a marker file, then loops) to the
 * other, and either lets the timeout fire or SIGKILLs it. From the deadline
 * or the kill: the future settling, the old process gone, a new child
 * appearing, the pool announcing a new worker (where it can), and a task
 * submitted the moment the future settled completing on a worker other than
 * the held one, which is the replacement.
 */
async function faultRun(a, mode, ms, bound) {
  // Warm-up only; on a loaded machine a pool-wide call limit may cut some
  // short (worker-farm's maxCallTime counts a child's boot, and re-queues).
  await bounded(Promise.allSettled(Array.from({ length: 20 }, (_, i) => a.call('inc', i))), bound);
  const base = join(tmpdir(), `bench-${process.pid}-${Date.now()}`);
  const files = { held: `${base}.held`, release: `${base}.release`, marker: `${base}.pid` };
  let hold;
  try {
    // worker-farm's pool-wide timeout can kill the hold before it starts on a
    // loaded machine (it counts a child's boot): try again, within the bound.
    const holdUntil = now() + bound;
    do {
      hold = watch(a.call('hold', { marker: files.held, release: files.release }));
      await pollUntil(() => existsSync(files.held) || hold.at !== undefined, holdUntil - now());
    } while (!existsSync(files.held) && hold.at !== undefined && now() < holdUntil);
    const heldPid = await pidFrom(files.held, 100);
    if (heldPid === undefined) throw new Error('the hold task never started');
    const known = new Set(childrenOf(process.pid));
    let readyAt;
    a.onWorkerStart?.((pid) => {
      if (!known.has(pid) && readyAt === undefined) readyAt = now();
    });
    const submitted = now();
    const faulted = watch(
      a.call('forever', files.marker, mode === 'timeout' ? { timeout: ms } : {}),
    );
    const pid = await pidFrom(files.marker, bound);
    if (pid === undefined) throw new Error('the forever task never started');
    if (pid === heldPid) throw new Error('forever ran on the held worker');
    let origin = submitted + ms;
    if (mode === 'kill') {
      origin = now();
      // Every library here forks its workers from this process: the task's
      // worker is our child, checked in /proc right before the signal.
      if (!killChild(pid)) throw new Error(`the forever task's worker ${pid} is not running`);
    }
    let goneAt;
    let spawnAt;
    let next;
    const probe = () => (next = watch(a.call('pid', 0)));
    await pollUntil(
      () => {
        const t = now();
        if (goneAt === undefined && !isRunning(pid)) goneAt = t;
        for (const c of childrenOf(process.pid)) {
          // A child that appeared before the origin (worker-farm's pool-wide
          // timeout also replaces the held worker) is not this fault's replacement.
          if (!known.has(c) && t < origin) known.add(c);
          else if (!known.has(c)) spawnAt ??= t;
        }
        if (next === undefined && faulted.at !== undefined) probe();
        const announced = readyAt !== undefined || !a.onWorkerStart;
        return goneAt !== undefined && spawnAt !== undefined && announced && next?.at !== undefined;
      },
      origin + bound - now(),
    );
    if (next === undefined) probe();
    await pollUntil(() => next.at !== undefined, bound);
    let replaced = since(next.at, origin);
    if (next.at !== undefined && !next.ok) replaced = 'failed';
    if (next.ok && next.value === heldPid) replaced = 'on held worker';
    return {
      // A timeout is there to stop the work: its row counts until the looping
      // worker is gone (a future can reject while the loop still runs).
      value: since(mode === 'timeout' ? goneAt : faulted.at, origin),
      unit: 'ms',
      settle_ms: since(faulted.at, origin),
      gone_ms: since(goneAt, origin),
      spawn_ms: since(spawnAt, origin),
      ready_ms: a.onWorkerStart ? since(readyAt, origin) : 'n/a',
      replaced_ms: replaced,
      outcome: outcomeOf(faulted),
      via: a.timeoutSupport,
    };
  } finally {
    // Let the held worker go, and wait for it before the files disappear.
    writeFileSync(files.release, '');
    if (hold) await pollUntil(() => hold.at !== undefined, bound);
    for (const f of Object.values(files)) rmSync(f, { force: true });
  }
}

function outcomeOf(state) {
  if (state.at === undefined) return 'never';
  if (state.ok) return 'resolved';
  return `rejected: ${String(state.error?.message ?? state.error).slice(0, 80)}`;
}

/**
 * shutdown()/close() of an idle pool whose workers have all run tasks: ms
 * until its promise resolves and until every worker process is gone.
 * deadpool: `shutdown({ wait: false, cancelFutures: true })` (`closeNow`).
 */
export async function shutdown(create, { params }) {
  const bound = params.bound ?? 2000;
  const a = await create({ workers: 2 });
  await Promise.all(Array.from({ length: 50 }, (_, i) => a.call('inc', i)));
  await pollUntil(() => childrenOf(process.pid).filter(isRunning).length >= 2, bound);
  const pids = descendantsOf(process.pid).filter(isRunning);
  const t = now();
  const closed = watch(a.closeNow ? a.closeNow() : a.close());
  let goneAt;
  await pollUntil(() => {
    if (goneAt === undefined && pids.every((p) => !isRunning(p))) goneAt = now();
    return goneAt !== undefined && closed.at !== undefined;
  }, bound);
  return {
    a: undefined, // closed already; scenario.mjs still looks for leftovers
    result: {
      value: since(closed.at, t),
      unit: 'ms',
      resolve_ms: since(closed.at, t),
      gone_ms: since(goneAt, t),
      workers: pids.length,
      outcome: outcomeOf(closed),
    },
  };
}
