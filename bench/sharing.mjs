// Sharing one pool: what tenants and affinity cost, and what tenants buy.
//   npm run build && node bench/sharing.mjs [--tasks=20000] [--reps=3]
// Runs alone (not part of run.mjs); prints a markdown table. Two workers, as
// the other scenarios. Figures go to docs/dispatch.md with the command and
// the Node version.
//  1. tiny-task throughput (inc), plain / with 4 tenants / with 4 affinity
//     keys / both, interleaved repetitions in one process, median tasks/s;
//  2. fairness: a flood of one tenant submitted at once, and a trickle of
//     another (one task every 10 ms while the flood drains): the trickle's
//     queue wait (submit → start on a worker) p50/p99, without and with
//     `tenant`.
import { Deadpool } from '../dist/index.js';
import { inc } from './tasks.mjs';

const arg = (name, fallback) => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found ? Number(found.split('=')[1]) : fallback;
};
const TASKS = arg('tasks', 20_000);
const REPS = arg('reps', 3);
const FLOOD = arg('flood', 20_000);
const TRICKLE = arg('trickle', 40);

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
