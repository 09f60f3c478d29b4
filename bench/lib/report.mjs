// Turns the raw per-run results into summaries (medians, × raw, ÷ baseline)
// and the markdown tables. Row names: ./rows.mjs; the chart: ./chart.mjs.
import { baselineOf, rowName } from './rows.mjs';
import { max, median, min } from './stats.mjs';

const FAULT = ['settle_ms', 'gone_ms', 'spawn_ms', 'ready_ms', 'replaced_ms'];
/** Columns beside the median, per scenario (paths into each run's result). */
const EXTRAS = {
  latency: ['p99'],
  cpu: ['ms1', 'ms2'],
  cold: ['import_ms', 'total_ms', 'close_ms'],
  'cold-breakdown': [
    'import_ms',
    'construct_ms',
    'spawned',
    'proc_start',
    'node_ready',
    'entry_loaded',
    'init_recv',
    'ready',
    'init_done',
    'run_recv',
    'task_start',
    'first_result',
  ],
  timeout: [...FAULT, 'via', 'outcome'],
  kill: [...FAULT, 'outcome'],
  shutdown: ['resolve_ms', 'gone_ms', 'outcome'],
  backlog: ['p99_batch_us', 'heap_bytes_per_task', 'rss_bytes_per_task', 'drain_tasks_per_s'],
  containment: [
    'kind',
    'start_ms_cgroup',
    'start_ms_pgroup',
    'task_us_cgroup',
    'task_us_pgroup',
    'empty_ms_cgroup',
    'gone_ms_pgroup',
  ],
  million: ['completed', 'first100k', 'last100k', 'rss_mb.start', 'rss_mb.middle', 'rss_mb.end'],
};
/** Extras that also get a "× raw" column. */
const RAW_RATIO_EXTRAS = { latency: ['p99'] };
/** Extras compared with the baseline in the summary, and which way is better. */
const BASELINE_EXTRAS = {
  latency: [['p99', 'lower']],
  cold: [['import_ms', 'lower']],
  'cold-breakdown': [
    ['import_ms', 'lower'],
    ['ready', 'lower'],
  ],
  timeout: [
    ['settle_ms', 'lower'],
    ['replaced_ms', 'lower'],
  ],
  kill: [['replaced_ms', 'lower']],
  shutdown: [['gone_ms', 'lower']],
  backlog: [
    ['heap_bytes_per_task', 'lower'],
    ['drain_tasks_per_s', 'higher'],
  ],
  million: [
    ['last100k', 'higher'],
    ['rss_mb.end', 'lower'],
  ],
};

const get = (o, path) => path.split('.').reduce((x, k) => x?.[k], o);
const ratio = (a, b) =>
  typeof a === 'number' && typeof b === 'number' && b !== 0 ? a / b : undefined;

/** Median of the numbers; strings (n/a, never, hung) are reported beside it. */
function aggregate(values) {
  const nums = values.filter((v) => typeof v === 'number');
  const others = values.filter((v) => typeof v !== 'number' && v !== undefined);
  if (nums.length === 0) {
    const counts = new Map();
    for (const o of others) counts.set(o, (counts.get(o) ?? 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '—';
  }
  const m = median(nums);
  return others.length ? `${fmt(m)} (${others.length}/${values.length} ${others[0]})` : m;
}

export function fmt(x) {
  if (x === undefined) return '';
  if (typeof x !== 'number') return String(x).replace(/\|/g, '/').replace(/\n/g, ' ');
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

const fmtRatio = (r) => (r === undefined ? '' : r.toFixed(2));

export function summarize(scenarios, runs) {
  const out = {};
  for (const s of scenarios) {
    const libs = {};
    for (const lib of s.libs) {
      const mine = runs.filter((r) => r.id === s.id && r.lib === lib);
      if (mine.length === 0) continue;
      const ok = mine.filter((r) => !r.error);
      const nums = ok.map((r) => r.value).filter((v) => typeof v === 'number');
      const hung = ok.filter((r) => r.close_ms === 'hung');
      libs[lib] = {
        unit: ok[0]?.unit,
        median: nums.length ? median(nums) : aggregate(ok.map((r) => r.value)),
        min: min(nums),
        max: max(nums),
        reps: mine.length,
        errors: mine.filter((r) => r.error).map((r) => r.error.split('\n')[0]),
        extras: Object.fromEntries(
          (EXTRAS[s.id] ?? []).map((k) => [k, aggregate(ok.map((r) => get(r, k)))]),
        ),
        // after a close that returned, plus anything that outlived the scenario process
        // (a run that failed never closed its pool: scenario.mjs kills what is left)
        leftover: mine.reduce(
          (n, r) =>
            n +
            (r.close_ms === 'hung' || r.error ? 0 : (r.leftover?.length ?? 0)) +
            (r.orphans_after_exit?.length ?? 0),
          0,
        ),
        closeHung: hung.length,
        killedAfterHang: hung.reduce((n, r) => n + (r.leftover?.length ?? 0), 0),
      };
    }
    const raw = libs.raw;
    for (const [lib, v] of Object.entries(libs)) {
      v.ratio = s.informational ? undefined : ratio(v.median, raw?.median);
      v.extraRatios = Object.fromEntries(
        (RAW_RATIO_EXTRAS[s.id] ?? []).map((k) => [k, ratio(v.extras[k], raw?.extras[k])]),
      );
      const base = libs[baselineOf(lib)];
      if (base) v.baselineRatio = ratio(v.median, base.median);
    }
    out[s.id] = { title: s.title, better: s.better, informational: s.informational, libs };
  }
  return out;
}

function leftoverCell(v) {
  const hung = v.closeHung ? ` (close hung ×${v.closeHung}, ${v.killedAfterHang} killed)` : '';
  return `${v.leftover}${hung}`;
}

function medianCell(v) {
  return v.errors.length === v.reps ? `error: ${fmt(v.errors[0]).slice(0, 60)}` : fmt(v.median);
}

function table(head, rows) {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

function scenarioTable(s, sum, meta) {
  const entries = Object.entries(sum.libs);
  const withBaseline = entries.some(([, v]) => v.baselineRatio !== undefined);
  const extras = EXTRAS[s.id] ?? [];
  if (sum.informational) {
    // one row per point, one column per library
    const head = ['point', ...entries.map(([lib]) => rowName(lib, meta))];
    if (withBaseline) head.push('deadpool ÷ baseline');
    const [dp, base] = [sum.libs.deadpool, sum.libs['deadpool-baseline']];
    const rows = extras.map((k) => {
      const cells = entries.map(([, v]) =>
        v.errors.length === v.reps ? medianCell(v) : fmt(v.extras[k]),
      );
      if (withBaseline) cells.push(fmtRatio(ratio(dp?.extras[k], base?.extras[k])));
      return [k, ...cells];
    });
    rows.push([
      'leftover procs',
      ...entries.map(([, v]) => leftoverCell(v)),
      ...(withBaseline ? [''] : []),
    ]);
    return table(head, rows);
  }
  const rawRatioExtras = RAW_RATIO_EXTRAS[s.id] ?? [];
  const head = [
    'row',
    'median',
    'spread',
    '× raw',
    ...(withBaseline ? ['deadpool ÷ baseline'] : []),
    ...extras,
    ...rawRatioExtras.map((k) => `${k} × raw`),
    'leftover procs',
  ];
  const rows = entries.map(([lib, v]) => [
    rowName(lib, meta),
    medianCell(v),
    typeof v.min === 'number' && v.reps > 1 ? `${fmt(v.min)}–${fmt(v.max)}` : '',
    fmtRatio(v.ratio),
    ...(withBaseline ? [fmtRatio(v.baselineRatio)] : []),
    ...extras.map((k) => fmt(v.extras[k]).slice(0, 70)),
    ...rawRatioExtras.map((k) => fmtRatio(v.extraRatios[k])),
    leftoverCell(v),
  ]);
  return table(head, rows);
}

function baselineSummary(scenarios, summary, meta) {
  const rows = [];
  for (const s of scenarios) {
    for (const [lib, v] of Object.entries(summary[s.id]?.libs ?? {})) {
      const base = summary[s.id].libs[baselineOf(lib)];
      if (!base) continue;
      const metrics = [['median', s.better], ...(BASELINE_EXTRAS[s.id] ?? [])];
      for (const [k, better] of metrics) {
        const a = k === 'median' ? v.median : v.extras[k];
        const b = k === 'median' ? base.median : base.extras[k];
        const name = k === 'median' ? `${v.unit ?? ''} (median)` : k;
        rows.push([s.id, rowName(lib, meta), name, fmt(a), fmt(b), fmtRatio(ratio(a, b)), better]);
      }
    }
  }
  if (rows.length === 0) return [];
  return [
    '',
    `## deadpool vs baseline ${meta.baseline.ref} (${meta.baseline.short})`,
    '',
    'Same run, interleaved repetitions. "÷" is deadpool divided by the baseline; whether above 1 is good depends on the last column.',
    '',
    ...table(['scenario', 'row', 'metric', 'deadpool', 'baseline', '÷', 'better'], rows),
  ];
}

export function renderMarkdown(meta, scenarios, summary) {
  const lines = [
    '# deadpool benchmark',
    '',
    `${meta.date} · Node ${meta.node} · ${meta.cpus} × ${meta.cpuModel ?? 'CPU'} · 2 workers unless stated · ` +
      `1-min load average ${meta.loadavg1.join(' → ')} · full run ${meta.wallSeconds} s${meta.quick ? ' · QUICK (reduced counts)' : ''}` +
      `${meta.baseline ? ` · baseline ${meta.baseline.ref} = ${meta.baseline.short}` : ''}`,
    '',
    'Each cell is the median over repetitions, each repetition a fresh Node process; spread is min–max. ' +
      '"× raw" divides by the `raw` row of the same run: a `child_process.fork` dispatcher with advanced serialization and one task in flight per worker. ' +
      'Reference rows (not pools): `raw-json` (the same with JSON), `raw-pipelined` (32 tasks in flight per worker), `raw-ceiling` (16 × 100 KB in flight over the 2 workers: the IPC ceiling). ' +
      '"leftover procs" counts processes alive after a close that returned; a close that hung is shown beside it. ' +
      "deadpool's rows run with its code cache, written at the start of the run by one typical first run (bench/prime-cache.mjs); `deadpool-nocache` is its cold start without. " +
      'The machine is shared, so treat differences under ~15 % as noise. bench/README.md explains every row and column.',
    ...(meta.baseline ? baselineSummary(scenarios, summary, meta) : []),
  ];
  for (const s of scenarios) {
    const sum = summary[s.id];
    if (!sum || Object.keys(sum.libs).length === 0) continue;
    const unit = Object.values(sum.libs).find((v) => v.unit)?.unit ?? '';
    lines.push(
      '',
      `## ${sum.title}`,
      '',
      `${sum.better === 'higher' ? 'Higher' : 'Lower'} is better; unit: ${unit}.`,
      '',
      ...scenarioTable(s, sum, meta),
    );
  }
  return `${lines.join('\n')}\n`;
}
