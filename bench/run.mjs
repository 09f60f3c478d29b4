// The benchmark orchestrator: runs every (scenario, library, repetition) as a
// fresh `node bench/scenario.mjs` process, checks for leftover processes after
// each, and writes bench/results/latest.{json,md} and chart.svg.
//
//   node bench/run.mjs [--only=tiny,latency] [--libs=raw,deadpool] [--reps=1] [--quick]
//                      [--baseline=<git-ref>] [--node=22,24,26] [--out=<suffix>]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { prepareBaseline } from './lib/baseline.mjs';
import { renderChart } from './lib/chart.mjs';
import { runChild } from './lib/child.mjs';
import { nodeFor, renderLines, runLine } from './lib/lines.mjs';
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

/** --node=22,24,26: this bench under each line's binary, then one report with a column per line. */
async function mainLines() {
  const lineIds = args.node.split(',').map((x) => x.trim());
  const binaries = lineIds.map((line) => [line, nodeFor(line)]);
  const rest = process.argv
    .slice(2)
    .filter((a) => !a.startsWith('--node=') && !a.startsWith('--out='));
  const script = fileURLToPath(import.meta.url);
  const results = [];
  for (const [line, binary] of binaries) {
    console.log(`\n# Node ${line} (${binary})`);
    const code = await runLine(binary, script, [...rest, `--out=node${line}`]);
    const file = new URL(`./results/latest-node${line}.json`, import.meta.url);
    if (code !== 0 || !existsSync(file)) {
      console.log(`Node ${line}: the run failed (exit ${code})`);
      continue;
    }
    const { meta, summary } = JSON.parse(readFileSync(file, 'utf8'));
    results.push({ line, meta, summary });
  }
  const md = renderLines(results);
  writeFileSync(new URL('./results/lines.md', import.meta.url), md);
  writeFileSync(
    new URL('./results/lines.json', import.meta.url),
    `${JSON.stringify(results, null, 2)}\n`,
  );
  console.log(`\n${md}\nwrote bench/results/lines.md, lines.json and latest-node<line>.{json,md}`);
  if (results.length !== binaries.length) process.exit(1);
}

/**
 * deadpool's rows run with its code cache as a program's second run on a
 * machine would (docs/api.md, "Code cache"): in a fresh directory for this
 * run, written by bench/prime-cache.mjs before anything is measured.
 * Returns the directory, or undefined when no deadpool row runs.
 */
function primeCodeCache(scenarios, baseline) {
  const libs = new Set(scenarios.flatMap((s) => s.libs));
  if (![...libs].some((lib) => lib.startsWith('deadpool'))) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'deadpool-bench-code-cache-'));
  process.env.DEADPOOL_CODE_CACHE = dir;
  const prime = fileURLToPath(new URL('./prime-cache.mjs', import.meta.url));
  const runs = [...libs].some((lib) => lib.startsWith('deadpool') && !lib.endsWith('-baseline'))
    ? [{}]
    : [];
  if (baseline) runs.push({ DEADPOOL_BENCH_BASELINE: baseline.dir });
  for (const env of runs) {
    const childEnv = { ...process.env, ...env };
    if (!env.DEADPOOL_BENCH_BASELINE) delete childEnv.DEADPOOL_BENCH_BASELINE;
    execFileSync(process.execPath, [prime], { env: childEnv, stdio: 'inherit' });
  }
  return dir;
}

async function main() {
  if (args.node) return mainLines();
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
  const codeCache = primeCodeCache(scenarios, baseline);
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
        if (lib === 'deadpool-nocache') env.DEADPOOL_CODE_CACHE = 'off';
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
  if (codeCache) rmSync(codeCache, { recursive: true, force: true });
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
  // --out=<suffix> (set per line by --node) keeps each line's files apart.
  const name = args.out ? `latest-${args.out}` : 'latest';
  writeFileSync(
    new URL(`./results/${name}.json`, import.meta.url),
    `${JSON.stringify({ meta, summary, runs }, null, 2)}\n`,
  );
  writeFileSync(new URL(`./results/${name}.md`, import.meta.url), md);
  const chart = args.out ? `chart-${args.out}.svg` : 'chart.svg';
  writeFileSync(new URL(`./results/${chart}`, import.meta.url), renderChart(summary, meta));
  console.log(`\n${md}`);
  console.log(`wrote bench/results/${name}.json, ${name}.md, ${chart} in ${meta.wallSeconds} s`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
