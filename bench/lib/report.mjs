// Turns the raw per-run results into summaries, markdown tables and an SVG chart.
import { max, median, min } from './stats.mjs';

const EXTRAS = {
  tiny: [],
  'payload-100k': [],
  'payload-10m': [],
  latency: ['p99'],
  cpu: ['ms1', 'ms2'],
  cold: ['close_ms'],
  timeout: ['settle_ms', 'gone_ms', 'spawn_ms', 'ready_ms', 'next_task_ms', 'via', 'outcome'],
  kill: ['settle_ms', 'gone_ms', 'spawn_ms', 'ready_ms', 'next_task_ms', 'outcome'],
  backlog: ['p99_batch_us', 'heap_bytes_per_task', 'rss_bytes_per_task', 'drain_tasks_per_s'],
  million: [
    'completed',
    'first100k',
    'last100k',
    'rss_mb.start',
    'rss_mb.middle',
    'rss_mb.end',
    'seconds',
  ],
};

const get = (o, path) => path.split('.').reduce((x, k) => x?.[k], o);

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

function fmt(x) {
  if (typeof x !== 'number') return String(x).replace(/\|/g, '/').replace(/\n/g, ' ');
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

export function summarize(scenarios, runs) {
  const out = {};
  for (const s of scenarios) {
    const libs = {};
    for (const lib of s.libs) {
      const mine = runs.filter((r) => r.id === s.id && r.lib === lib);
      if (mine.length === 0) continue;
      const ok = mine.filter((r) => !r.error);
      const values = ok.map((r) => r.value);
      const nums = values.filter((v) => typeof v === 'number');
      libs[lib] = {
        unit: ok[0]?.unit,
        median: nums.length ? median(nums) : aggregate(values),
        min: min(nums),
        max: max(nums),
        reps: mine.length,
        errors: mine.filter((r) => r.error).map((r) => r.error.split('\n')[0]),
        extras: Object.fromEntries(
          (EXTRAS[s.id] ?? []).map((k) => [k, aggregate(ok.map((r) => get(r, k)))]),
        ),
        leftover: mine.reduce(
          (n, r) => n + (r.leftover?.length ?? 0) + (r.orphans_after_exit?.length ?? 0),
          0,
        ),
        closeHung: ok.filter((r) => r.close_ms === 'hung').length,
      };
    }
    const raw = libs.raw?.median;
    for (const v of Object.values(libs)) {
      v.ratio =
        !s.noRatio && typeof raw === 'number' && typeof v.median === 'number'
          ? v.median / raw
          : undefined;
    }
    out[s.id] = { title: s.title, better: s.better, libs };
  }
  return out;
}

export function renderMarkdown(meta, scenarios, summary) {
  const lines = [
    '# deadpool benchmark',
    '',
    `${meta.date} · Node ${meta.node} · ${meta.cpus} × ${meta.cpuModel ?? 'CPU'} · 2 workers unless stated · ` +
      `1-min load average ${meta.loadavg1.join(' → ')} · full run ${meta.wallSeconds} s${meta.quick ? ' · QUICK (reduced counts)' : ''}`,
    '',
    'Each cell is the median over repetitions, each repetition a fresh Node process; spread is min–max. ' +
      '"× raw" divides by the raw `child_process.fork` baseline (advanced serialization, one task in flight per worker) of the same run. ' +
      'The machine is shared, so treat differences under ~15 % as noise.',
  ];
  for (const s of scenarios) {
    const sum = summary[s.id];
    if (!sum || Object.keys(sum.libs).length === 0) continue;
    const extras = EXTRAS[s.id] ?? [];
    const unit = Object.values(sum.libs).find((v) => v.unit)?.unit ?? '';
    lines.push(
      '',
      `## ${sum.title}`,
      '',
      `${sum.better === 'higher' ? 'Higher' : 'Lower'} is better; unit: ${unit}.`,
      '',
    );
    const head = [
      'library',
      'median',
      'spread',
      ...(s.noRatio ? [] : ['× raw']),
      ...extras,
      'leftover procs',
    ];
    lines.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
    for (const [lib, v] of Object.entries(sum.libs)) {
      const spread = typeof v.min === 'number' && v.reps > 1 ? `${fmt(v.min)}–${fmt(v.max)}` : '';
      const cells = [
        lib,
        v.errors.length === v.reps ? `error: ${fmt(v.errors[0]).slice(0, 60)}` : fmt(v.median),
        spread,
        ...(s.noRatio ? [] : [v.ratio === undefined ? '' : `${v.ratio.toFixed(2)}`]),
        ...extras.map((k) => fmt(v.extras[k]).slice(0, 70)),
        `${v.leftover}${v.closeHung ? ` (close hung ×${v.closeHung})` : ''}`,
      ];
      lines.push(`| ${cells.join(' | ')} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Horizontal bar chart: tiny-task throughput and 100 KB MB/s per library. */
export function renderChart(summary) {
  const panels = [
    ['tiny', 'Tiny-task throughput (tasks/s, higher is better)'],
    ['payload-100k', '100 KB payload round trip (MB/s, higher is better)'],
  ].filter(([id]) => summary[id]);
  const width = 760;
  const labelW = 130;
  const barMax = width - labelW - 110;
  const rowH = 22;
  let y = 10;
  const parts = [];
  for (const [id, title] of panels) {
    const rows = Object.entries(summary[id].libs).filter(([, v]) => typeof v.median === 'number');
    const top = Math.max(...rows.map(([, v]) => v.max ?? v.median));
    parts.push(`<text x="10" y="${y + 16}" font-size="14" font-weight="bold">${esc(title)}</text>`);
    y += 28;
    for (const [lib, v] of rows) {
      const w = Math.max(1, (v.median / top) * barMax);
      const color = lib.startsWith('deadpool')
        ? '#d62728'
        : lib.startsWith('raw')
          ? '#7f7f7f'
          : '#1f77b4';
      parts.push(
        `<text x="${labelW - 6}" y="${y + 15}" font-size="12" text-anchor="end">${esc(lib)}</text>`,
        `<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${color}"/>`,
      );
      if (typeof v.min === 'number' && v.max !== v.min) {
        const x1 = labelW + (v.min / top) * barMax;
        const x2 = labelW + (v.max / top) * barMax;
        parts.push(
          `<line x1="${x1.toFixed(1)}" x2="${x2.toFixed(1)}" y1="${y + rowH / 2}" y2="${y + rowH / 2}" stroke="#000" stroke-width="1.5"/>`,
        );
      }
      parts.push(
        `<text x="${labelW + w + 6}" y="${y + 15}" font-size="12">${esc(fmt(v.median))}</text>`,
      );
      y += rowH;
    }
    y += 16;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...parts,
    `<text x="10" y="${y - 4}" font-size="10" fill="#555">bars: median; black line: min–max over repetitions; grey = raw fork, red = deadpool, blue = peers</text>`,
    '</svg>',
    '',
  ].join('\n');
}
