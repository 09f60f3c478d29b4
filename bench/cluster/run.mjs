// `npm run bench:cluster`: BullMQ + deadpool against BullMQ's own sandboxed
// processors, on one box with a Redis of its own.
//
// 1. Throughput: N jobs added at once (`addBulk`), timed until Redis counts N
//    completed; 1 and 2 machines (processes), each running 2 jobs at a time
//    (deadpool: a pool of 2; sandbox: `concurrency: 2`, BullMQ forks 2
//    children). Plus deadpool driven by DeadpoolQueue.submit, awaiting every
//    RemoteFuture. Every machine of a row runs on this same box.
// 2. Failover: two deadpool machines; the one running a job is SIGKILLed; the
//    time until the job is active on the other, per lockDuration/stalledInterval.
//
// Options: --reps=3  --quick (fewer jobs)  --no-defaults (skip the 30 s/30 s failover)
// Writes bench/results/cluster.md and prints the same tables.
import { Queue, QueueEvents } from 'bullmq';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DeadpoolQueue } from 'deadpool/bullmq';
import { startRedis } from '../../examples/cluster/redis.mjs';
import { work } from './tasks.mjs';

const argv = process.argv.slice(2);
const reps = Number(argv.find((a) => a.startsWith('--reps='))?.slice(7) ?? 3);
const quick = argv.includes('--quick');
const COUNTS = { tiny: quick ? 300 : 2_000, cpu: quick ? 60 : 400 };
const CPU_MS = 10;
const CONCURRENCY = 2;
const FAILOVER = [
  [2_000, 500],
  [5_000, 1_000],
  ...(argv.includes('--no-defaults') ? [] : [[30_000, 30_000]]),
];

const loadAtStart = loadavg()[0].toFixed(1);
const redis = await startRedis();
const connection = redis.connection;
let made = 0;
const queueName = () => `bench-${++made}`;

function startMachine(config) {
  const path = fileURLToPath(new URL('./machine.mjs', import.meta.url));
  const child = spawn(process.execPath, [path, JSON.stringify({ port: redis.port, ...config })], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const ready = new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`a machine exited early (${code})`)));
    child.stdout.setEncoding('utf8').on('data', (chunk) => chunk.includes('ready') && resolve());
  });
  return { child, exited, ready, name: config.name };
}

async function stopMachines(machines) {
  for (const m of machines) m.child.kill('SIGTERM');
  const timer = setTimeout(() => machines.forEach((m) => m.child.kill('SIGKILL')), 30_000);
  await Promise.all(machines.map((m) => m.exited));
  clearTimeout(timer);
}

async function until(check, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await delay(5);
  }
}

/** Jobs per second for one run. `engine`: deadpool | deadpool-submit | sandbox. */
async function throughput(engine, machineCount, kind) {
  const queue = queueName();
  const n = COUNTS[kind];
  const args = [kind, kind === 'cpu' ? CPU_MS : 1];
  const config = {
    engine: engine === 'sandbox' ? 'sandbox' : 'deadpool',
    queue,
    concurrency: CONCURRENCY,
  };
  const machines = Array.from({ length: machineCount }, () => startMachine(config));
  const raw = new Queue(queue, { connection });
  try {
    await Promise.all(machines.map((m) => m.ready));
    if (engine === 'deadpool-submit') {
      const submitter = new DeadpoolQueue(queue, { connection });
      await submitter.submit(work, ['tiny', 0]); // handshake and warm-up, outside the clock
      const started = performance.now();
      await Promise.all(Array.from({ length: n }, () => submitter.submit(work, args)));
      const elapsed = performance.now() - started;
      await submitter.close();
      return (n / elapsed) * 1000;
    }
    const jobs = Array.from({ length: n }, () => ({ name: 'work', data: { args } }));
    const started = performance.now();
    for (let i = 0; i < n; i += 500) await raw.addBulk(jobs.slice(i, i + 500));
    await until(async () => {
      if ((await raw.getFailedCount()) > 0) throw new Error(`${engine}: a job failed`);
      return (await raw.getCompletedCount()) >= n;
    });
    return (n / (performance.now() - started)) * 1000;
  } finally {
    await raw.close();
    await stopMachines(machines);
  }
}

/** Milliseconds from SIGKILL of the machine running a job to that job active on the other. */
async function failover(lockDuration, stalledInterval) {
  const queue = queueName();
  const config = {
    engine: 'deadpool',
    queue,
    concurrency: CONCURRENCY,
    lockDuration,
    stalledInterval,
  };
  const machines = ['m1', 'm2'].map((name) => startMachine({ ...config, name }));
  const raw = new Queue(queue, { connection });
  const events = new QueueEvents(queue, { connection });
  try {
    await Promise.all([...machines.map((m) => m.ready), events.waitUntilReady()]);
    // Count activations from before the add: the second one is the run on the survivor.
    let activations = 0;
    let again;
    const rerun = new Promise((resolve) => (again = resolve));
    const id = 'failover-job';
    events.on(
      'active',
      ({ jobId }) => jobId === id && ++activations === 2 && again(performance.now()),
    );
    await raw.add('work', { args: ['hold', 600_000] }, { jobId: id });
    let job;
    await until(async () => (job = await raw.getJob(id))?.processedBy !== undefined);
    await until(() => activations === 1);
    const victim = machines.find((m) => m.name === job.processedBy);
    const killedAt = performance.now();
    victim.child.kill('SIGKILL');
    return (await rerun) - killedAt;
  } finally {
    await events.close();
    await raw.close();
    // The survivor hands the endless job back when its 1 s drain is up.
    await stopMachines(machines);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x) => Math.round(x).toLocaleString('en-US');
const lines = [];
const out = (line = '') => {
  lines.push(line);
  console.log(line);
};

try {
  out(`# Cluster benchmark`);
  out();
  out(
    `${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}, one Redis, ${reps} runs each (median, then every run).`,
  );
  out(
    `Jobs: tiny (returns n + 1) × ${COUNTS.tiny}; cpu (${CPU_MS} ms spin) × ${COUNTS.cpu}. ${CONCURRENCY} jobs at a time per machine.`,
  );
  out();
  out('| engine | machines | tiny jobs/s | cpu jobs/s |');
  out('|---|---|---|---|');
  const rows = [
    ['deadpool (createQueueWorker)', 'deadpool', 1],
    ['deadpool (createQueueWorker)', 'deadpool', 2],
    ['BullMQ sandboxed processor', 'sandbox', 1],
    ['BullMQ sandboxed processor', 'sandbox', 2],
    ['deadpool, DeadpoolQueue.submit + await', 'deadpool-submit', 1],
    ['deadpool, DeadpoolQueue.submit + await', 'deadpool-submit', 2],
  ];
  const results = new Map(rows.map((row) => [row, { tiny: [], cpu: [] }]));
  // Repetitions interleaved across rows, so machine noise spreads over all of them.
  for (let rep = 0; rep < reps; rep++) {
    for (const row of rows) {
      for (const kind of ['tiny', 'cpu'])
        results.get(row)[kind].push(await throughput(row[1], row[2], kind));
    }
  }
  for (const row of rows) {
    const r = results.get(row);
    const cell = (xs) => `**${fmt(median(xs))}** (${xs.map(fmt).join(', ')})`;
    out(`| ${row[0]} | ${row[2]} | ${cell(r.tiny)} | ${cell(r.cpu)} |`);
  }
  out();
  out(
    'Failover: a machine running a job is SIGKILLed; ms until the job is active on the other machine.',
  );
  out();
  out('| lockDuration | stalledInterval | ms to running elsewhere |');
  out('|---|---|---|');
  for (const [lockDuration, stalledInterval] of FAILOVER) {
    const runs = [];
    const n = lockDuration >= 30_000 ? 1 : reps;
    for (let i = 0; i < n; i++) runs.push(await failover(lockDuration, stalledInterval));
    out(
      `| ${fmt(lockDuration)} | ${fmt(stalledInterval)} | **${fmt(median(runs))}** (${runs.map(fmt).join(', ')}) |`,
    );
  }
  out();
  out(`Load average (1 min) at the start ${loadAtStart}, at the end ${loadavg()[0].toFixed(1)}.`);
  out('`node bench/cluster/run.mjs` (`npm run bench:cluster`)');
  writeFileSync(new URL('../results/cluster.md', import.meta.url), `${lines.join('\n')}\n`);
} finally {
  await redis.stop();
}
