// Cold start. `cold` (every library): import time and construct → first
// result. `coldBreakdown` (deadpool and its baseline only): where deadpool's
// cold start goes, on one timeline in ms after `new Deadpool()`, from the
// parent's NODE_DEBUG=deadpool lines and the worker's own clocks (a preload,
// bench/workers/boot-probe.cjs, and the `probe` task). bench/README.md says
// what each point means.
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { now, round } from '../lib/stats.mjs';

export async function cold(create, { importMs }) {
  const t = now();
  // The first task is submitted at once, as a program that makes a pool and
  // uses it does: `awaitReady: false` tells the adapters that wait for their
  // workers elsewhere (raw fork's, deadpool's) not to. poolifier's still
  // waits: it runs nothing before its 'ready' event.
  const a = await create({ workers: 2, awaitReady: false });
  const first = await a.call('inc', 1);
  const firstMs = now() - t;
  if (first !== 2) throw new Error(`wrong result ${first}`);
  return {
    a,
    result: {
      value: round(firstMs, 1),
      unit: 'ms',
      import_ms: round(importMs, 1),
      first_result_ms: round(firstMs, 1),
      total_ms: round(importMs + firstMs, 1),
    },
  };
}

/** Timestamps (performance.now()) of deadpool's debug lines, which it keeps off stderr. */
function captureDebug() {
  const seen = { spawned: new Map(), ready: new Map() };
  const write = process.stderr.write;
  process.stderr.write = function (chunk, ...rest) {
    const text = String(chunk);
    if (!text.startsWith('DEADPOOL ')) return write.call(this, chunk, ...rest);
    const at = now();
    const spawned = /worker (\d+) spawned/.exec(text);
    if (spawned && !seen.spawned.has(spawned[1])) seen.spawned.set(spawned[1], at);
    const ready = /worker (\d+): starting → idle/.exec(text);
    if (ready && !seen.ready.has(ready[1])) seen.ready.set(ready[1], at);
    return true;
  };
  return { seen, stop: () => (process.stderr.write = write) };
}

export async function coldBreakdown() {
  const baseline = process.env.DEADPOOL_BENCH_BASELINE;
  const debugOn = /\bdeadpool\b/i.test(process.env.NODE_DEBUG ?? '');
  const t0 = now();
  const { Deadpool } = await import(
    baseline ? pathToFileURL(join(baseline, 'dist', 'index.js')).href : '../../dist/index.js'
  );
  const importMs = now() - t0;
  const t1 = now();
  const tasks = await import('../tasks.mjs');
  const tasksImportMs = now() - t1;
  const preload = fileURLToPath(new URL('../workers/boot-probe.cjs', import.meta.url));
  const debug = captureDebug();
  const tc = now();
  const pool = new Deadpool({
    maxWorkers: 2,
    minWorkers: 2,
    execArgv: [...process.execArgv, '--require', preload],
  });
  const constructed = now();
  const first = await pool.submit(tasks.probe, []);
  const firstAt = now();
  debug.stop();
  const origin = performance.timeOrigin + tc; // epoch ms of `new Deadpool()`
  const child = (ms) => (typeof ms === 'number' ? round(first.timeOrigin + ms - origin, 1) : 'n/a');
  const parent = (at) => (at === undefined ? (debugOn ? 'never' : 'n/a') : round(at - tc, 1));
  const pid = String(first.pid);
  const marks = first.marks ?? {};
  return {
    a: { close: () => pool.shutdown() },
    result: {
      value: round(firstAt - tc, 1),
      unit: 'ms',
      import_ms: round(importMs, 1),
      parent_tasks_import_ms: round(tasksImportMs, 1),
      construct_ms: round(constructed - tc, 1),
      spawned: parent(debug.seen.spawned.get(pid)),
      proc_start: child(0),
      node_ready: child(first.node.bootstrapComplete),
      entry_loaded: child(marks.entryLoaded),
      init_recv: child(marks.recv_init),
      ready: parent(debug.seen.ready.get(pid)),
      init_done: child(marks.done_init),
      run_recv: child(marks.recv_run),
      task_start: child(first.now),
      first_result: round(firstAt - tc, 1),
      preloaded: first.marks !== null,
    },
  };
}
