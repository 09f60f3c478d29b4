// `npm run bench:service`: the example service (examples/service/) under load
// on loopback, three times with the same load (autocannon on the work
// endpoints, a /health prober, clients that disconnect mid-request): with its
// CPU work in a deadpool pool while poison requests and a worker killer run;
// in a pool without them; and with the same work done inline on the event
// loop (no faults there: they would take the service down). Prints
// throughput, latencies, non-2xx by cause, event-loop delay and leftover
// processes. Exit code 1 if the service crashed or left a process behind.
//
//   node bench/service/run.mjs [--seconds=20] [--connections=8] [--json]
import { cpus, loadavg } from 'node:os';
import { runFaultMix } from './lib/fault-mix.mjs';

const args = new Map();
for (let i = 2; i < process.argv.length; i++) {
  const [key, value] = process.argv[i].replace(/^--/, '').split('=');
  const next = process.argv[i + 1];
  if (value !== undefined) args.set(key, value);
  else if (next !== undefined && !next.startsWith('--')) args.set(key, process.argv[++i]);
  else args.set(key, 'true');
}
const seconds = Number(args.get('seconds') ?? 20);
const connections = Number(args.get('connections') ?? 8);
if (!(seconds > 0) || !Number.isInteger(connections) || connections < 1) {
  console.error('usage: node bench/service/run.mjs [--seconds=20] [--connections=8] [--json]');
  process.exit(2);
}

const cpu = cpus();
console.log(
  `deadpool service load test: ${seconds} s per run, ${connections} connections, loopback; ` +
    `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ` +
    `load average ${loadavg()[0].toFixed(1)}`,
);
// Every run has autocannon on the work endpoints, a /health prober and clients
// that disconnect mid-request; the first adds the poisoner and the killer.
const runs = [];
console.log('run 1: pool, with poisoner, killer (every 500 ms) and disconnecting clients...');
runs.push(await runFaultMix({ mode: 'pool', faults: true, seconds, connections }));
console.log('run 2: pool, no poison, no killer...');
runs.push(await runFaultMix({ mode: 'pool', faults: false, seconds, connections }));
console.log('run 3: inline, the same work on the event loop...');
runs.push(await runFaultMix({ mode: 'inline', seconds, connections }));
const [faulty] = runs;

const f1 = (x) => (x === undefined ? '—' : x.toFixed(1));
const f0 = (x) => (x === undefined ? '—' : Math.round(x).toLocaleString('en-US'));
const row = (label, cell) =>
  console.log(`  ${label.padEnd(36)}${runs.map((r) => String(cell(r)).padEnd(22)).join('')}`);
const loop = (r) => r.service.final?.eventLoopDelayMs;
const gone = (r) => r.service.final?.responses?.['499'] ?? 0;
const exit = (r) =>
  r.service.crashed
    ? `CRASHED (${r.service.exit.code}, ${r.service.exit.signal}${r.service.exit.hung ? ', hung' : ''})`
    : `code 0 in ${f0(r.service.exit.ms)} ms`;
console.log('');
console.log(
  `  ${''.padEnd(36)}${['pool + faults', 'pool', 'inline'].map((t) => t.padEnd(22)).join('')}`,
);
row('work requests/s (2xx)', (r) => f0(r.work.rps));
row('work latency p50 / p99, ms', (r) => `${r.work.latencyMs.p50} / ${r.work.latencyMs.p99}`);
row(
  '/health latency p50 / p99, ms',
  (r) => `${f1(r.health.latencyMs.p50)} / ${f1(r.health.latencyMs.p99)}`,
);
row('event-loop delay p99 / max, ms', (r) => `${f1(loop(r)?.p99)} / ${f1(loop(r)?.max)}`);
row('work non-2xx; connection errors', (r) => `${r.work.non2xx}; ${r.work.errors}`);
row('clients gone (499); tasks cancelled', (r) => `${gone(r)}; ${r.balance?.cancelled ?? '—'}`);
row('exit after SIGTERM', exit);
row('processes left after SIGTERM', (r) => r.leftovers.after.length);

const { faults } = faulty;
console.log('');
console.log(
  `faults (run 1): ${faults.kills} workers SIGKILLed, poisons ${JSON.stringify(faults.poisons)}, ` +
    `${faults.disconnects} disconnecting clients (${faults.disconnectsAnswered} answered before they left)`,
);
console.log('non-2xx by cause (run 1; work and poison requests):');
for (const [cause, n] of Object.entries(faulty.notOk.causes).sort())
  console.log(`  ${String(n).padStart(5)}  ${cause}`);
for (const r of runs) {
  const b = r.balance;
  if (b) {
    const s = r.service.final.statistics;
    const exits = Object.entries(s.workerExits)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`);
    console.log(
      `statistics (${label(r)}): received ${b.received} = completed ${b.completed} + failed ${b.failed} + ` +
        `cancelled ${b.cancelled}: ${b.balanced ? 'balanced' : 'NOT BALANCED'}; ` +
        `workers created ${s.workerProcessesCreated}, exits: ${exits.join(', ')}`,
    );
  }
  for (const u of r.notOk.unexplained.slice(0, 10))
    console.log(
      `  UNEXPLAINED (${label(r)}): ${u.route} ${u.status} ${JSON.stringify(u.body).slice(0, 300)}`,
    );
  if (r.notOk.unexplained.length > 10)
    console.log(`  ... ${r.notOk.unexplained.length - 10} more unexplained`);
  for (const w of r.service.warnings.slice(0, 5))
    console.log(`  service stderr (${label(r)}): ${w}`);
  for (const e of r.service.errorLogs.slice(0, 5))
    console.log(`  service error log (${label(r)}): ${JSON.stringify(e).slice(0, 300)}`);
  if (r.leftovers.after.length > 0)
    console.log(`  LEFT RUNNING (${label(r)}): ${r.leftovers.after.join(', ')} (killed now)`);
  else if (r.leftovers.atExit.length > 0)
    console.log(
      `  (${label(r)}): ${r.leftovers.atExit.length} processes still ending at the service's exit, gone within 2 s`,
    );
}
console.log(`load average at the end: ${loadavg()[0].toFixed(1)}`);
if (args.get('json') === 'true') {
  // Without the per-response records and the service's log lines.
  const brief = (r) => ({
    ...r,
    faults: { ...r.faults, poisonResponses: r.faults.poisonResponses.length },
    service: { ...r.service, logs: r.service.logs.length },
  });
  console.log(JSON.stringify(runs.map(brief)));
}

function label(r) {
  return r.mode === 'inline'
    ? 'inline'
    : r.faults.kills > 0 || Object.keys(r.faults.poisons).length > 0
      ? 'pool + faults'
      : 'pool';
}

const failed = runs.some((r) => r.service.crashed || r.leftovers.after.length > 0);
process.exitCode = failed ? 1 : 0;
