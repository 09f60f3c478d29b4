// The benchmark orchestrator: runs every (scenario, library, repetition) as a
// fresh `node bench/scenario.mjs` process, checks for leftover processes after
// each, and writes bench/results/latest.{json,md} and chart.svg.
//
//   node bench/run.mjs [--only=tiny,latency] [--libs=raw,deadpool] [--reps=1] [--quick]
//                      [--baseline=<git-ref>]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { prepareBaseline } from './lib/baseline.mjs';
import { renderChart } from './lib/chart.mjs';
import { runChild } from './lib/child.mjs';
import { librariesFor, plan } from './lib/plan.mjs';
import { renderMarkdown, summarize } from './lib/report.mjs';

const repo = fileURLToPath(new URL('..', import.meta.url));
const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, ...v] = a.replace(/^--/, '').split('=');
    return [k, v.length ? v.join('=') : 'true'];
  }),
);
const quick = args.quick === 'true';
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

/** Builds the --baseline worktree, and removes it however the run ends. */
function setUpBaseline(ref) {
  if (!ref) return undefined;
  if (!hasDeadpool) throw new Error('--baseline needs this checkout built first (npm run build)');
  console.log(`baseline: building ${ref} in a temporary worktree...`);
  const baseline = prepareBaseline(repo, ref);
  console.log(`baseline: ${ref} = ${baseline.sha} in ${baseline.dir}`);
  process.once('exit', baseline.remove);
  for (const signal of ['SIGINT', 'SIGTERM'])
    process.once(signal, () => {
      baseline.remove();
      process.exit(130);
    });
  return baseline;
}

async function main() {
  const started = Date.now();
  const only = args.only?.split(',');
  const libsFilter = args.libs?.split(',');
  const baseline = setUpBaseline(args.baseline === 'true' ? 'HEAD' : args.baseline);
  const iterations = calibrateSpin();
  const load = [loadavg()[0]];
  const scenarios = plan({ iterations, quick, deadpool: hasDeadpool })
    .filter((s) => !only || only.includes(s.id))
    .map((s) => ({ ...s, libs: librariesFor(s, { only: libsFilter, baseline }) }));
  const runs = [];
  console.log(
    `deadpool bench: node ${process.version}, ${cpus().length} CPUs, load ${loadavg()[0].toFixed(2)}, spin ${iterations} iterations ≈ 50 ms${hasDeadpool ? '' : ' (dist/ missing: deadpool skipped)'}`,
  );
  for (const s of scenarios) {
    const reps = args.reps ? Number(args.reps) : s.reps;
    console.log(`\n## ${s.title}`);
    for (let rep = 0; rep < reps; rep++) {
      for (const lib of s.libs) {
        const params = { ...s.params, ...s.override?.[lib] };
        const env = { ...s.env };
        if (lib.endsWith('-baseline')) env.DEADPOOL_BENCH_BASELINE = baseline.dir;
        const t = Date.now();
        const r = await runChild(lib, s.scenario ?? s.id, params, {
          execArgv: s.execArgv,
          env,
          limitMs: s.limitMs,
        });
        r.id = s.id;
        r.rep = rep;
        runs.push(r);
        const leaks = [...(r.leftover ?? []), ...r.orphans_after_exit];
        const hung = r.close_ms === 'hung';
        console.log(
          `  ${s.id} rep ${rep + 1}/${reps} ${lib.padEnd(21)} ${r.error ? `ERROR ${r.error.split('\n')[0]}` : `${r.value} ${r.unit}`}` +
            `${hung ? '  CLOSE HUNG' : ''}${leaks.length ? `  ${hung ? 'killed' : 'LEFTOVER'} ${leaks.join(',')}` : ''}  (${((Date.now() - t) / 1000).toFixed(1)} s)`,
        );
      }
    }
    load.push(loadavg()[0]);
  }
  baseline?.remove();
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    loadavg1: load.map((x) => Number(x.toFixed(2))),
    spinIterations: iterations,
    quick,
    baseline: baseline && { ref: baseline.ref, sha: baseline.sha, short: baseline.short },
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
  writeFileSync(new URL('./results/chart.svg', import.meta.url), renderChart(summary, meta));
  console.log(`\n${md}`);
  console.log(`wrote bench/results/latest.json, latest.md, chart.svg in ${meta.wallSeconds} s`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
