// `containment` (deadpool only): the cost of kernel containment against the
// process group, both kinds measured in the same process, rounds interleaved.
// Per round and kind: a pool of 1 from `new Deadpool()` to ready (start_ms),
// 300 awaited tiny tasks (task_us each), and a 200 ms timeout on an endless
// loop: ms from the deadline until the worker's whole cgroup is empty
// (cgroup), or until the worker is gone (process group: all it can know).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { median, now, round } from '../lib/stats.mjs';

const TASKS = 300;
const TIMEOUT_MS = 200;

function isRunning(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/** The worker's v2 cgroup directory, or undefined outside one. */
function v2CgroupOf(pid) {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'latin1')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  const path = line?.slice(3);
  if (!path || path === '/') return undefined;
  for (const root of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    if (existsSync(join(root, path, 'cgroup.events'))) return join(root, path);
  }
  return undefined;
}

function populated(dir) {
  try {
    return /populated 1/.test(readFileSync(join(dir, 'cgroup.events'), 'latin1'));
  } catch {
    return false; // removed: empty
  }
}

async function round1(Deadpool, tasks, containment) {
  let t = now();
  const pool = new Deadpool({ maxWorkers: 1, containment });
  await pool.ready();
  const startMs = now() - t;
  t = now();
  for (let i = 0; i < TASKS; i++) await pool.submit(tasks.inc, [i]);
  const taskUs = ((now() - t) * 1000) / TASKS;
  const future = pool.submit(tasks.loop, [], { timeout: TIMEOUT_MS });
  const pid = await new Promise((resolve) => future.addPidCallback(() => resolve(future.pid)));
  const deadline = now() + TIMEOUT_MS; // the clock starts at the worker's start (upper bound)
  const dir = v2CgroupOf(pid);
  await future.then(
    () => {},
    () => {},
  );
  const gone = dir ? () => !populated(dir) : () => !isRunning(pid);
  while (!gone()) await delay(1);
  const emptyMs = now() - deadline;
  await pool.shutdown();
  return { kind: pool.containment.kind, startMs, taskUs, emptyMs };
}

export async function containment(_create, { params }) {
  const baseline = process.env.DEADPOOL_BENCH_BASELINE;
  const dist = baseline
    ? pathToFileURL(join(baseline, 'dist', 'index.js')).href
    : '../../dist/index.js';
  const { Deadpool } = await import(dist);
  const tasks = await import('../tasks.mjs');
  const rounds = params.rounds ?? 5;
  const seen = { cgroup: [], pgroup: [] };
  for (let r = 0; r < rounds; r++) {
    seen.cgroup.push(await round1(Deadpool, tasks, 'auto'));
    seen.pgroup.push(await round1(Deadpool, tasks, 'process-group'));
  }
  const kind = seen.cgroup[0].kind;
  const m = (list, key) => round(median(list.map((x) => x[key])), 2);
  return {
    a: undefined,
    result: {
      value: m(seen.cgroup, 'emptyMs'),
      unit: 'ms',
      kind,
      start_ms_cgroup: m(seen.cgroup, 'startMs'),
      start_ms_pgroup: m(seen.pgroup, 'startMs'),
      task_us_cgroup: m(seen.cgroup, 'taskUs'),
      task_us_pgroup: m(seen.pgroup, 'taskUs'),
      empty_ms_cgroup: m(seen.cgroup, 'emptyMs'),
      gone_ms_pgroup: m(seen.pgroup, 'emptyMs'),
    },
  };
}
