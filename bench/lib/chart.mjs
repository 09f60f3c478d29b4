// The SVG chart: horizontal bars for tiny-task throughput and 100 KB payload
// MB/s, every row of those tables (references and baseline included).
import { chartLabel, kindOf } from './rows.mjs';
import { fmt } from './report.mjs';

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
const COLORS = { reference: '#7f7f7f', deadpool: '#d62728', baseline: '#f2a3a3', peer: '#1f77b4' };

export function renderChart(summary, meta = {}) {
  const panels = [
    ['tiny', 'Tiny-task throughput (tasks/s, higher is better)'],
    ['payload-100k', '100 KB payload round trip (MB/s, higher is better)'],
  ].filter(([id]) => summary[id]);
  const width = 820;
  const labelW = 200;
  const barMax = width - labelW - 150;
  const rowH = 22;
  let y = 10;
  const parts = [];
  for (const [id, title] of panels) {
    const rows = Object.entries(summary[id].libs);
    const nums = rows.map(([, v]) => v.max ?? v.median).filter((x) => typeof x === 'number');
    const top = Math.max(1, ...nums);
    parts.push(`<text x="10" y="${y + 16}" font-size="14" font-weight="bold">${esc(title)}</text>`);
    y += 28;
    for (const [lib, v] of rows) {
      parts.push(
        `<text x="${labelW - 6}" y="${y + 15}" font-size="12" text-anchor="end">${esc(chartLabel(lib, meta))}</text>`,
      );
      if (typeof v.median !== 'number') {
        // an error or no number: keep the row, say why
        const why = v.errors?.length ? 'error' : fmt(v.median);
        parts.push(
          `<text x="${labelW + 4}" y="${y + 15}" font-size="12" fill="#555">${esc(why)}</text>`,
        );
        y += rowH;
        continue;
      }
      const w = Math.max(1, (v.median / top) * barMax);
      parts.push(
        `<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${COLORS[kindOf(lib)]}"/>`,
      );
      let end = labelW + w;
      if (typeof v.min === 'number' && v.max !== v.min) {
        const x1 = labelW + (v.min / top) * barMax;
        const x2 = labelW + (v.max / top) * barMax;
        end = Math.max(end, x2);
        parts.push(
          `<line x1="${x1.toFixed(1)}" x2="${x2.toFixed(1)}" y1="${y + rowH / 2}" y2="${y + rowH / 2}" stroke="#000" stroke-width="1.5"/>`,
        );
      }
      const ratio = v.ratio === undefined ? '' : ` (${v.ratio.toFixed(2)} × raw)`;
      parts.push(
        `<text x="${(end + 6).toFixed(1)}" y="${y + 15}" font-size="12">${esc(fmt(v.median) + ratio)}</text>`,
      );
      y += rowH;
    }
    y += 16;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...parts,
    `<text x="10" y="${y - 4}" font-size="10" fill="#555">bars: median; black line: min–max over repetitions; grey = raw fork references, red = deadpool, pink = deadpool baseline, blue = peers</text>`,
    '</svg>',
    '',
  ].join('\n');
}
