/**
 * The Grafana dashboard ops/grafana/deadpool.json (docs/operating.md): it
 * type-checks as Grafana's published `Dashboard` type (@grafana/schema), its
 * panels have well-formed queries on the datasource variable, every variable
 * a query uses exists, it shows what an operator needs, and (with promtool)
 * every query is valid PromQL.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import {
  DASHBOARD_PATH,
  dashboardQueries,
  readDashboard,
  substitute,
  variableQueries,
} from './helpers/ops.js';
import { describeWithCommands } from './helpers/tools.js';
import { tempDir } from './helpers/files.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dashboard = readDashboard();
const VARIABLES = dashboard.templating.list.map((v) => v.name);
/** A value for each variable, and Grafana's own `$__rate_interval`. */
const ALL = Object.fromEntries([
  ...VARIABLES.map((name) => [name, ['.*']]),
  ['__rate_interval', ['1m']],
]) as Record<string, string[]>;

describe('the dashboard against @grafana/schema', () => {
  // In the repository, so that the file resolves @grafana/schema from node_modules.
  const cache = join(ROOT, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'deadpool-dashboard-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Run tsc on `files` (name → source) in `dir`; the diagnostics by file. */
  function typecheck(files: Record<string, string>): { status: number | null; output: string } {
    for (const [name, source] of Object.entries(files)) writeFileSync(join(dir, name), source);
    const run = spawnSync(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '--ignoreConfig',
        '--noEmit',
        '--strict',
        '--exactOptionalPropertyTypes',
        '--skipLibCheck',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2022',
        '--pretty',
        'false',
        ...Object.keys(files).map((name) => join(dir, name)),
      ],
      { cwd: dir, encoding: 'utf8', timeout: 60_000 },
    );
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  }

  const typed = (json: string): string =>
    `import type { Dashboard } from '@grafana/schema';\nexport const dashboard: Dashboard = ${json};\n`;

  test('the JSON, embedded as a literal typed Dashboard, type-checks; broken copies do not', () => {
    const json = readFileSync(DASHBOARD_PATH, 'utf8');
    const copy = (): Record<string, unknown> & { panels: { gridPos: object }[] } =>
      JSON.parse(json) as Record<string, unknown> & { panels: { gridPos: object }[] };
    const misplaced = copy();
    misplaced.panels[1]!.gridPos = { x: 'left', y: 0, w: 6, h: 4 };
    const unknownKey = copy();
    unknownKey.refreshEvery = '30s';
    const result = typecheck({
      'dashboard.mts': typed(json),
      'misplaced.mts': typed(JSON.stringify(misplaced, null, 2)),
      'unknown-key.mts': typed(JSON.stringify(unknownKey, null, 2)),
    });
    const errors = result.output.split('\n').filter((line) => line.includes('error TS'));
    expect(errors.filter((line) => line.startsWith('dashboard.mts'))).toEqual([]);
    expect(errors.join('\n')).toMatch(
      /misplaced\.mts.*'string' is not assignable to type 'number'/,
    );
    expect(errors.join('\n')).toMatch(/unknown-key\.mts.*'"?refreshEvery"?' does not exist/);
    expect(errors).toHaveLength(2);
  }, 60_000);
});

describe('the dashboard structure', () => {
  test('every panel has a unique id and place; every non-row panel has queries on ${datasource}', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const panel of dashboard.panels) {
      const { x, y, w, h } = panel.gridPos;
      expect(x + w, panel.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++)
        for (let j = y; j < y + h; j++) {
          expect(cells.has(`${i},${j}`), `${panel.title} overlaps at ${i},${j}`).toBe(false);
          cells.add(`${i},${j}`);
        }
      if (panel.type === 'row') continue;
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      const refIds = panel.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
      for (const target of panel.targets!) {
        expect(typeof target.expr, panel.title).toBe('string');
        expect(target.expr, panel.title).not.toBe('');
        expect(typeof target.legendFormat, panel.title).toBe('string');
        expect(target.datasource, panel.title).toEqual(panel.datasource);
      }
    }
  });

  test('every variable a query uses exists; datasource, job, instance and pool are there', () => {
    expect(VARIABLES).toEqual(
      expect.arrayContaining(['datasource', 'job', 'instance', 'pool', 'task']),
    );
    const texts = [...dashboardQueries().map((q) => q.expr), ...variableQueries().values()];
    for (const text of texts) {
      for (const [, name] of text.matchAll(/\$\{?(\w+)\}?/g)) {
        expect(name === '__rate_interval' || VARIABLES.includes(name!), `$${name} in ${text}`).toBe(
          true,
        );
      }
      expect(() => substitute(text, ALL)).not.toThrow();
    }
    // Several pools share the dashboard: every pool query filters on job, instance and pool.
    for (const { panel, expr } of dashboardQueries()) {
      expect(expr, panel).toContain('job=~"$job", instance=~"$instance", pool=~"$pool"');
    }
  });

  test('it shows throughput, latency by name, workers, exits, backlog against its limit and CPU', () => {
    const all = dashboardQueries()
      .map((q) => q.expr)
      .join('\n');
    for (const needed of [
      'sum by (outcome) (rate(deadpool_tasks_total',
      'histogram_quantile(0.99, sum by (name, le) (rate(deadpool_task_queue_wait_seconds_bucket',
      'histogram_quantile(0.5, sum by (name, le) (rate(deadpool_task_run_seconds_bucket',
      'sum by (state) (deadpool_workers',
      'sum by (reason) (rate(deadpool_worker_exits_total',
      'deadpool_backlog_tasks',
      'deadpool_backlog_limit',
      'deadpool_task_cpu_seconds',
    ]) {
      expect(all).toContain(needed);
    }
  });
});

describeWithCommands('the dashboard queries (promtool)', ['promtool'], ([promtool]) => {
  test('every query, its variables substituted, is valid PromQL', () => {
    const queries = dashboardQueries().map((q) => substitute(q.expr, ALL));
    // promtool parses rules files without a server: one recording rule per query.
    const rules = {
      groups: [
        { name: 'dashboard', rules: queries.map((expr, i) => ({ record: `query_${i}`, expr })) },
      ],
    };
    const file = join(tempDir(), 'dashboard-queries.yml');
    writeFileSync(file, JSON.stringify(rules));
    const run = spawnSync(promtool!, ['check', 'rules', file], { encoding: 'utf8' });
    expect({ status: run.status, output: run.stdout + run.stderr }).toMatchObject({
      status: 0,
      output: expect.stringContaining(`SUCCESS: ${queries.length} rules found`),
    });
  });
});
