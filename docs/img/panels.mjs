// Draws six panels of the Grafana dashboard (ops/grafana/deadpool.json) as one
// SVG, from the series a real Prometheus recorded during the fault run of
// test/ops-prometheus.test.ts:
//
//   DEADPOOL_OPS_CAPTURE=/tmp/run.json npx vitest run test/ops-prometheus.test.ts
//   node docs/img/panels.mjs /tmp/run.json > docs/img/panels-with-faults.svg
//
// The queries are the dashboard's own, with $__rate_interval = 5s (the server
// scraped every second). No dependency: plain SVG text.
import { readFileSync } from 'node:fs';

const PANELS = [
  ['Throughput by outcome', null, 'tasks/s'],
  ['Queue wait by task name (p50, p99)', 'p99', 'seconds, p99'],
  ['Run time by task name (p50, p99)', 'p99', 'seconds, p99'],
  ['Workers by state', null, 'workers'],
  ['Worker exits by reason (per minute)', null, 'exits/min'],
  ['Backlog against its limit', null, 'tasks'],
];
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2'];
const W = 420;
const H = 250;
const PAD = { left: 48, right: 12, top: 28, bottom: 78 };

const capture = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const t0 = capture.loadStart;
const seconds = capture.end - t0;

const escape = (s) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const label = (template, metric) =>
  template.replace(/\{\{(\w+)\}\}/g, (_, name) => metric[name] ?? '').trim() || template;
const tidy = (n) => (n >= 10 ? n.toFixed(0) : n >= 1 ? n.toFixed(1) : n.toPrecision(2));

function panel([title, legendPrefix, unit], x0, y0) {
  const lines = capture.series
    .filter(
      (s) => s.panel === title && (legendPrefix === null || s.legend.startsWith(legendPrefix)),
    )
    .flatMap((s) => s.result.map((r) => ({ name: label(s.legend, r.metric), values: r.values })))
    .map((l) => ({ ...l, points: l.values.map(([t, v]) => [t - t0, Number(v)]) }))
    .filter((l) => l.points.some(([, v]) => Number.isFinite(v) && v > 0));
  const max = Math.max(
    1e-9,
    ...lines.flatMap((l) => l.points.map(([, v]) => (Number.isFinite(v) ? v : 0))),
  );
  const pw = W - PAD.left - PAD.right;
  const ph = H - PAD.top - PAD.bottom;
  const px = (t) => x0 + PAD.left + (Math.max(0, t) / seconds) * pw;
  const py = (v) => y0 + PAD.top + ph - (v / max) * ph;
  const out = [
    `<text x="${x0 + 8}" y="${y0 + 18}" font-weight="bold">${escape(title)}</text>`,
    `<rect x="${x0 + PAD.left}" y="${y0 + PAD.top}" width="${pw}" height="${ph}" fill="#fafafa" stroke="#ccc"/>`,
  ];
  for (const f of [0, 0.5, 1]) {
    const y = py(max * f);
    out.push(
      `<text x="${x0 + PAD.left - 4}" y="${y + 4}" text-anchor="end" font-size="10">${tidy(max * f)}</text>`,
    );
    if (f > 0)
      out.push(
        `<line x1="${x0 + PAD.left}" x2="${x0 + PAD.left + pw}" y1="${y}" y2="${y}" stroke="#eee"/>`,
      );
  }
  for (let s = 0; s <= seconds; s += 10) {
    out.push(
      `<text x="${px(s)}" y="${y0 + PAD.top + ph + 12}" text-anchor="middle" font-size="10">${s}s</text>`,
    );
  }
  out.push(
    `<text x="${x0 + W - PAD.right}" y="${y0 + 18}" text-anchor="end" font-size="10" fill="#666">${escape(unit)}</text>`,
  );
  lines.forEach((l, i) => {
    const color = COLORS[i % COLORS.length];
    const dash = l.name.startsWith('limit') ? ' stroke-dasharray="6 4"' : '';
    let d = '';
    let pen = 'M';
    for (const [t, v] of l.points) {
      if (!Number.isFinite(v)) {
        pen = 'M';
        continue;
      }
      d += `${pen}${px(t).toFixed(1)},${py(v).toFixed(1)} `;
      pen = 'L';
    }
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6"${dash}/>`);
    const lx = x0 + PAD.left + (i % 3) * 120;
    const ly = y0 + PAD.top + ph + 30 + Math.floor(i / 3) * 14;
    out.push(`<rect x="${lx}" y="${ly - 8}" width="10" height="3" fill="${color}"/>`);
    out.push(
      `<text x="${lx + 14}" y="${ly - 4}" font-size="10">${escape(l.name.replace(/ 127\.0\.0\.1:\d+/, '').slice(0, 20))}</text>`,
    );
  });
  return out.join('\n');
}

const body = PANELS.map((p, i) => panel(p, (i % 3) * W, Math.floor(i / 3) * H)).join('\n');
console.log(`<svg xmlns="http://www.w3.org/2000/svg" width="${3 * W}" height="${2 * H + 24}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${body}
<text x="8" y="${2 * H + 16}" font-size="10" fill="#666">The service example (2 workers) under load with poisons (endless loop, process.exit, runaway allocation, leak) and clients that leave; scraped every second by Prometheus ${escape('2.42')}; the dashboard's queries, $__rate_interval = 5s.</text>
</svg>`);
