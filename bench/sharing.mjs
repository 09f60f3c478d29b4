// Sharing one pool: what tenants and affinity cost, and what tenants buy.
//   npm run build && node bench/sharing.mjs [--tasks=20000] [--reps=3] [--only=sharing|concurrency]
// Runs alone (not part of run.mjs); prints a markdown table. Two workers, as
// the other scenarios. Figures go to docs/dispatch.md with the command and
// the Node version.
//  1. tiny-task throughput (inc), plain / with 4 tenants / with 4 affinity
//     keys / both, interleaved repetitions in one process, median tasks/s;
//  2. fairness: a flood of one tenant submitted at once, and a trickle of
//     another (one task every 10 ms while the flood drains): the trickle's
//     queue wait (submit → start on a worker) p50/p99, without and with
//     `tenant`.
//  3. concurrency: --io=400 I/O-bound tasks (`sleep`: a promise on a 20 ms
//     timer, resolving to its argument) through 2 workers ×
//     concurrentTasksPerWorker 1, 2 workers × 8, and 16 workers × 1 (the
//     same concurrency by processes), interleaved repetitions: tasks/s, and
//     the summed VmRSS (and PSS, which splits the pages they share) of the
//     worker processes (pids from 'workerStart'), read from /proc right
//     after the last task, while they are alive.
// --only=sharing runs 1 and 2, --only=concurrency runs 3.
import { readFileSync } from 'node:fs';
import { Deadpool } from '../dist/index.js';
import { inc, sleep } from './tasks.mjs';

const arg = (name, fallback) => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found ? Number(found.split('=')[1]) : fallback;
};
const TASKS = arg('tasks', 20_000);
const REPS = arg('reps', 3);
const FLOOD = arg('flood', 20_000);
const TRICKLE = arg('trickle', 40);
const IO = arg('io', 400);
const IO_MS = arg('ioMs', 20);
const ONLY = process.argv.find((a) => a.startsWith('--only='))?.split('=')[1];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

async function withPool(fn) {
  const pool = new Deadpool({ maxWorkers: 2 });
  try {
    await pool.ready();
    for (let i = 0; i < 200; i++) await pool.submit(inc, [i]); // warm: module loaded, pipelining on
    return await fn(pool);
  } finally {
    await pool.shutdown();
  }
}

const variants = {
  plain: () => undefined,
  tenants: (i) => ({ tenant: `t${i % 4}` }),
  affinity: (i) => ({ affinity: `k${i % 4}` }),
  both: (i) => ({ tenant: `t${i % 4}`, affinity: `k${i % 4}` }),
};

async function throughput(options) {
  return withPool(async (pool) => {
    const start = performance.now();
    const futures = [];
    for (let i = 0; i < TASKS; i++) futures.push(pool.submit(inc, [i], options(i)));
    await Promise.all(futures);
    return TASKS / ((performance.now() - start) / 1000);
  });
}

async function fairness(withTenant) {
  return withPool(async (pool) => {
    const flood = [];
    for (let i = 0; i < FLOOD; i++) {
      flood.push(pool.submit(inc, [i], withTenant ? { tenant: 'flood' } : undefined));
    }
    const waits = [];
    const trickle = [];
    for (let i = 0; i < TRICKLE; i++) {
      const at = performance.now();
      const f = pool.submit(inc, [i], withTenant ? { tenant: 'trickle' } : undefined);
      f.addPidCallback(() => waits.push(performance.now() - at));
      trickle.push(f);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all([...flood, ...trickle]);
    return { p50: pct(waits, 50), p99: pct(waits, 99) };
  });
}

const concurrencyVariants = [
  { workers: 2, perWorker: 1 },
  { workers: 2, perWorker: 8 },
  { workers: 16, perWorker: 1 },
];

// kB of one /proc field of a live worker (NaN if it is gone: the sum shows it).
const kb = (pid, file, field) => {
  try {
    const text = readFileSync(`/proc/${pid}/${file}`, 'utf8');
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)[1]);
  } catch {
    return NaN;
  }
};
const sumMb = (pids, file, field) =>
  [...pids].reduce((sum, pid) => sum + kb(pid, file, field), 0) / 1024;

async function concurrency({ workers, perWorker }) {
  const pool = new Deadpool({ maxWorkers: workers, concurrentTasksPerWorker: perWorker });
  const pids = new Set();
  pool.on('workerStart', ({ pid }) => pids.add(pid));
  pool.on('workerExit', ({ pid }) => pids.delete(pid));
  try {
    await pool.ready();
    const warm = [];
    for (let i = 0; i < workers * perWorker; i++) warm.push(pool.submit(sleep, [1]));
    await Promise.all(warm); // every worker has the task module
    const start = performance.now();
    const futures = [];
    for (let i = 0; i < IO; i++) futures.push(pool.submit(sleep, [IO_MS]));
    await Promise.all(futures);
    const rate = IO / ((performance.now() - start) / 1000);
    // RSS counts the pages the workers share (node's code) once per worker; PSS splits them.
    const rssMb = sumMb(pids, 'status', 'VmRSS');
    const pssMb = sumMb(pids, 'smaps_rollup', 'Pss');
    return { rate, rssMb, pssMb };
  } finally {
    await pool.shutdown();
  }
}

if (!ONLY || ONLY === 'sharing') {
  const rates = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let rep = 0; rep < REPS; rep++) {
    for (const [name, options] of Object.entries(variants))
      rates[name].push(await throughput(options));
  }
  const fair = { without: [], with: [] };
  for (let rep = 0; rep < REPS; rep++) {
    fair.without.push(await fairness(false));
    fair.with.push(await fairness(true));
  }

  const base = median(rates.plain);
  console.log(`Node ${process.version}, ${TASKS} tiny tasks × ${REPS} reps, 2 workers\n`);
  console.log('| tiny tasks (inc) | tasks/s (median) | × plain |');
  console.log('|---|---|---|');
  for (const [name, xs] of Object.entries(rates)) {
    console.log(`| ${name} | ${Math.round(median(xs))} | ${(median(xs) / base).toFixed(2)} |`);
  }
  console.log(`\nFairness: flood of ${FLOOD} tasks, trickle of ${TRICKLE} (one per 10 ms)\n`);
  console.log('| trickle queue wait | p50 ms (median of reps) | p99 ms (median of reps) |');
  console.log('|---|---|---|');
  for (const [name, runs] of Object.entries(fair)) {
    const p50 = median(runs.map((r) => r.p50));
    const p99 = median(runs.map((r) => r.p99));
    console.log(`| ${name} tenant | ${p50.toFixed(1)} | ${p99.toFixed(1)} |`);
  }
}

if (!ONLY || ONLY === 'concurrency') {
  const runs = concurrencyVariants.map(() => []);
  for (let rep = 0; rep < REPS; rep++) {
    for (const [i, variant] of concurrencyVariants.entries())
      runs[i].push(await concurrency(variant));
  }
  const base = median(runs[0].map((r) => r.rate));
  console.log(
    `\nNode ${process.version}, ${IO} tasks awaiting a ${IO_MS} ms timer × ${REPS} reps\n`,
  );
  console.log(
    '| workers × tasks per worker | tasks/s (median) | × 2 × 1 | workers RSS MB | PSS MB |',
  );
  console.log('|---|---|---|---|---|');
  const cell = (xs) =>
    `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
  for (const [i, { workers, perWorker }] of concurrencyVariants.entries()) {
    const rate = median(runs[i].map((r) => r.rate));
    const rss = cell(runs[i].map((r) => r.rssMb));
    const pss = cell(runs[i].map((r) => r.pssMb));
    console.log(
      `| ${workers} × ${perWorker} | ${Math.round(rate)} | ${(rate / base).toFixed(2)} | ${rss} | ${pss} |`,
    );
  }
}
