// Soak: one million tiny tasks through one deadpool pool, with a fault mix in
// every window (tasks that time out, throw, or call process.exit). Prints
// throughput, parent RSS over time, forks, and processes left at the end.
//
//   npm run soak            (or: node --expose-gc bench/soak.mjs --n=1000000 --window=10000)
import { setTimeout as delay } from 'node:timers/promises';
import { Deadpool } from '../dist/index.js';
import { descendantsOf, isRunning } from './lib/procs.mjs';
import * as tasks from './tasks.mjs';

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .map((a) => a.replace(/^--/, '').split('='))
    .map(([k, v]) => [k, Number(v)]),
);
const n = args.n ?? 1_000_000;
const window = args.window ?? 10_000;
const mix = { timeouts: args.timeouts ?? 2, throws: args.throws ?? 10, exits: args.exits ?? 2 };

const mb = (b) => (b / 2 ** 20).toFixed(1);
const rss = () => process.memoryUsage().rss;

const pool = new Deadpool({ maxWorkers: 2, minWorkers: 2 });
await pool.ready();
globalThis.gc?.();
const samples = [{ done: 0, rss: rss() }];
const failures = { timeout: 0, thrown: 0, process: 0, unexpected: 0 };
let wrong = 0;
const t0 = performance.now();
let marks = [t0];

for (let start = 0; start < n; start += window) {
  const futures = [];
  for (let i = 0; i < window; i++) futures.push(pool.submit(tasks.inc, [start + i]));
  const faults = [
    ...Array.from({ length: mix.timeouts }, () => pool.submit(tasks.loop, [], { timeout: 50 })),
    ...Array.from({ length: mix.throws }, () => pool.submit(tasks.boom, ['soak'])),
    ...Array.from({ length: mix.exits }, () => pool.submit(tasks.exitNow, [3])),
  ];
  const results = await Promise.all(futures);
  for (let i = 0; i < results.length; i++) if (results[i] !== start + i + 1) wrong++;
  for (const r of await Promise.allSettled(faults)) {
    const code = r.reason?.code;
    if (r.status === 'fulfilled') failures.unexpected++;
    else if (code === 'ERR_DEADPOOL_TIMEOUT') failures.timeout++;
    else if (code === 'ERR_DEADPOOL_PROCESS') failures.process++;
    else if (r.reason?.message === 'soak') failures.thrown++;
    else failures.unexpected++;
  }
  const done = start + window;
  if (done % 100_000 === 0) {
    marks.push(performance.now());
    const rate = 100_000 / ((marks.at(-1) - marks.at(-2)) / 1000);
    samples.push({ done, rss: rss() });
    console.log(
      `${done.toLocaleString('en-US').padStart(9)} tasks  ${rate.toFixed(0).padStart(6)} tasks/s  parent RSS ${mb(rss())} MB`,
    );
  }
}

const seconds = (performance.now() - t0) / 1000;
const stats = pool.getStatistics();
const workers = descendantsOf(process.pid);
await pool.shutdown();
await delay(100);
const leftover = workers.filter(isRunning).concat(descendantsOf(process.pid).filter(isRunning));
globalThis.gc?.();
const middle = samples[Math.floor(samples.length / 2)];
console.log(
  JSON.stringify(
    {
      tasks: n,
      seconds: Number(seconds.toFixed(1)),
      tasksPerSecond: Math.round(n / seconds),
      parentRssMb: {
        start: mb(samples[0].rss),
        middle: mb(middle.rss),
        end: mb(samples.at(-1).rss),
        afterShutdown: mb(rss()),
      },
      faultsPerWindow: mix,
      failures,
      wrongResults: wrong,
      workerProcessesCreated: stats.workerProcessesCreated,
      leftoverProcesses: [...new Set(leftover)],
    },
    null,
    2,
  ),
);
process.exitCode = wrong === 0 && failures.unexpected === 0 && leftover.length === 0 ? 0 : 1;
