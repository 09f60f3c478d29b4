// The benchmark orchestrator: runs every (scenario, library, repetition) as a
// fresh `node bench/scenario.mjs` process, checks for leftover processes after
// each, and writes bench/results/latest.{json,md} and chart.svg.
//
//   node bench/run.mjs [--only=tiny,latency] [--libs=raw,deadpool] [--reps=1] [--quick]
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { processesWithEnv } from './lib/procs.mjs';
import { renderChart, renderMarkdown, summarize } from './lib/report.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v = 'true'] = a.replace(/^--/, '').split('=');
    return [k, v];
  }),
);
const quick = args.quick === 'true';
const scale = (n) => (quick ? Math.max(1, Math.round(n / 10)) : n);

const PEERS = ['workerpool', 'tinypool', 'jest-worker', 'worker-farm', 'poolifier'];
const RAW = ['raw', 'raw-json', 'raw-pipe64'];
const hasDeadpool = existsSync(new URL('../dist/index.js', import.meta.url));

/** Calibrates the busy loop so one `spin` task takes ~50 ms on this machine. */
function calibrateSpin(targetMs = 50) {
  const { spin } = createRequire(import.meta.url)('./workers/fns.cjs');
  spin(1e6);
  const rates = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    spin(1e7);
    rates.push(1e7 / (performance.now() - t));
  }
  rates.sort((a, b) => a - b);
  return Math.round(rates[1] * targetMs);
}

function plan(iterations) {
  const dp = hasDeadpool ? ['deadpool'] : [];
  return [
    {
      id: 'tiny',
      title: '1. Tiny-task throughput (20,000 × x+1, all submitted at once)',
      better: 'higher',
      libs: [...RAW, ...dp, ...(hasDeadpool ? ['deadpool-map'] : []), ...PEERS],
      reps: 3,
      params: { n: scale(20_000) },
    },
    {
      id: 'payload-100k',
      scenario: 'payload',
      title: '2a. Payload throughput, 100 KB Buffer round trip (1,000 tasks)',
      better: 'higher',
      libs: [...RAW, ...dp, ...PEERS],
      reps: 3,
      params: { size: 100_000, count: scale(1000) },
      override: { 'raw-json': { count: scale(150) } },
    },
    {
      id: 'payload-10m',
      scenario: 'payload',
      title: '2b. Payload throughput, 10 MB Buffer round trip (10 tasks)',
      better: 'higher',
      libs: [...RAW, ...dp, ...PEERS],
      reps: 2,
      params: { size: 10_000_000, count: scale(10), bound: 20_000 },
      override: { 'raw-json': { count: 1 } },
    },
    {
      id: 'latency',
      title: '3. Sequential round-trip latency (2,000 awaited one at a time)',
      better: 'lower',
      libs: ['raw', 'raw-json', ...dp, ...PEERS],
      reps: 3,
      params: { n: scale(2000) },
    },
    {
      id: 'cpu',
      title: '4. CPU-bound speed-up, 1 → 2 workers (40 × ~50 ms busy loop)',
      better: 'higher',
      libs: ['raw', ...dp, ...PEERS],
      reps: 2,
      params: { iterations, tasks: scale(40) },
    },
    {
      id: 'cold',
      title: '5. Cold start: construct pool, submit one, first result',
      better: 'lower',
      libs: ['raw', ...dp, ...PEERS],
      reps: 5,
      params: {},
    },
    {
      id: 'timeout',
      title: '6. 200 ms timeout on an endless loop (ms after the deadline)',
      better: 'lower',
      noRatio: true,
      libs: ['raw', ...dp, ...PEERS],
      reps: 3,
      params: { timeout: 200, bound: 2000 },
    },
    {
      id: 'kill',
      title: '7. External SIGKILL of a busy worker (ms after the kill)',
      better: 'lower',
      noRatio: true,
      libs: ['raw', ...dp, ...PEERS],
      reps: 3,
      params: { bound: 2000 },
    },
    {
      id: 'backlog',
      title: '8. 100,000 submits with random priorities 0..9 while both workers are blocked',
      better: 'lower',
      noRatio: true,
      libs: dp,
      reps: 2,
      params: { n: scale(100_000) },
      execArgv: ['--expose-gc'],
    },
    {
      id: 'million',
      title: '9. One million tiny tasks through one pool (windows of 10,000)',
      better: 'higher',
      noRatio: true,
      libs: dp,
      reps: 1,
      params: { n: quick ? 200_000 : 1_000_000, maxSeconds: quick ? 30 : 120 },
      limitMs: 600_000,
    },
  ];
}

function runChild(lib, scenario, params, execArgv = [], limitMs = 180_000) {
  const tag = randomUUID();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [...execArgv, `${here}scenario.mjs`, lib, scenario, JSON.stringify(params)],
      { env: { ...process.env, BENCH_TAG: tag }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // Anything with our tag that outlived the child is a leak; kill it.
      const orphans = processesWithEnv('BENCH_TAG', tag);
      for (const pid of orphans) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      let result;
      try {
        result = line ? JSON.parse(line.slice('BENCH_RESULT '.length)) : undefined;
      } catch {
        result = undefined;
      }
      result ??= {
        lib,
        scenario,
        error: `no result (exit ${code}, signal ${signal}); stderr: ${err.slice(-400)}`,
      };
      result.orphans_after_exit = orphans;
      resolve(result);
    });
  });
}

async function main() {
  const started = Date.now();
  const only = args.only?.split(',');
  const libsFilter = args.libs?.split(',');
  const iterations = calibrateSpin();
  const load = [loadavg()[0]];
  const scenarios = plan(iterations).filter((s) => !only || only.includes(s.id));
  const runs = [];
  console.log(
    `deadpool bench: node ${process.version}, ${cpus().length} CPUs, load ${loadavg()[0].toFixed(2)}, spin ${iterations} iterations ≈ 50 ms${hasDeadpool ? '' : ' (dist/ missing: deadpool skipped)'}`,
  );
  for (const s of scenarios) {
    const libs = s.libs.filter((l) => !libsFilter || libsFilter.includes(l));
    const reps = args.reps ? Number(args.reps) : s.reps;
    console.log(`\n## ${s.title}`);
    for (let rep = 0; rep < reps; rep++) {
      for (const lib of libs) {
        const params = { ...s.params, ...s.override?.[lib] };
        const t = Date.now();
        const r = await runChild(lib, s.scenario ?? s.id, params, s.execArgv, s.limitMs);
        r.id = s.id;
        r.rep = rep;
        runs.push(r);
        const leaks = [...(r.leftover ?? []), ...r.orphans_after_exit];
        console.log(
          `  ${s.id} rep ${rep + 1}/${reps} ${lib.padEnd(13)} ${r.error ? `ERROR ${r.error.split('\n')[0]}` : `${r.value} ${r.unit}`}` +
            `${leaks.length ? `  LEFTOVER ${leaks.join(',')}` : ''}  (${((Date.now() - t) / 1000).toFixed(1)} s)`,
        );
      }
    }
    load.push(loadavg()[0]);
  }
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    loadavg1: load.map((x) => Number(x.toFixed(2))),
    spinIterations: iterations,
    quick,
    wallSeconds: Math.round((Date.now() - started) / 1000),
  };
  const summary = summarize(scenarios, runs);
  const md = renderMarkdown(meta, scenarios, summary);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(
    new URL('./results/latest.json', import.meta.url),
    `${JSON.stringify({ meta, summary, runs }, null, 2)}\n`,
  );
  writeFileSync(new URL('./results/latest.md', import.meta.url), md);
  writeFileSync(new URL('./results/chart.svg', import.meta.url), renderChart(summary));
  console.log(`\n${md}`);
  console.log(`wrote bench/results/latest.json, latest.md, chart.svg in ${meta.wallSeconds} s`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
