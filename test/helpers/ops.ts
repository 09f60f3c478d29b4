/**
 * The operations kit under ops/ as data for the tests: the Grafana
 * dashboard's panels, queries and variables, the PromQL of the Prometheus
 * rules, and the substitution of the dashboard's variables the way Grafana
 * does it for Prometheus.
 */
import { readFileSync } from 'node:fs';

export const OPS = new URL('../../ops/', import.meta.url);
export const DASHBOARD_PATH = new URL('grafana/deadpool.json', OPS);
export const RULES_PATH = new URL('prometheus/deadpool-rules.yml', OPS);

export interface DashboardTarget {
  refId?: unknown;
  expr?: unknown;
  legendFormat?: unknown;
  datasource?: { type?: unknown; uid?: unknown };
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: unknown; uid?: unknown };
  targets?: DashboardTarget[];
}

export interface DashboardVariable {
  type: string;
  name: string;
  query: string | { query: string };
  allValue?: string;
}

export interface DashboardJson {
  panels: DashboardPanel[];
  templating: { list: DashboardVariable[] };
}

export function readDashboard(): DashboardJson {
  return JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as DashboardJson;
}

/** Every query of every panel (rows have none), with the panel's title. */
export function dashboardQueries(
  dashboard = readDashboard(),
): { panel: string; expr: string; legend: string }[] {
  return dashboard.panels
    .filter((p) => p.type !== 'row')
    .flatMap((p) =>
      (p.targets ?? []).map((t) => ({
        panel: p.title,
        expr: String(t.expr),
        legend: String(t.legendFormat),
      })),
    );
}

/** The variables' own queries (`label_values(...)`), by name. */
export function variableQueries(dashboard = readDashboard()): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query') continue;
    out.set(v.name, typeof v.query === 'string' ? v.query : v.query.query);
  }
  return out;
}

/**
 * Substitute `$name` and `${name}` as Grafana does for a Prometheus regex
 * matcher: one value as is, several as `(a|b)`. `$__rate_interval` is
 * Grafana's own; give it in `values` too.
 */
export function substitute(expr: string, values: Record<string, string[]>): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => {
    const list = values[name];
    if (list === undefined) throw new Error(`no value for $${name} in ${expr}`);
    return list.length === 1 ? list[0]! : `(${list.join('|')})`;
  });
}

export interface RuleExpression {
  kind: 'record' | 'alert';
  name: string;
  expr: string;
}

/**
 * The rules of the rules file with their PromQL, read from its two shapes:
 * `expr: ...` on one line, or `expr: >-` and a folded block below it.
 */
export function ruleExpressions(text = readFileSync(RULES_PATH, 'utf8')): RuleExpression[] {
  const out: RuleExpression[] = [];
  const lines = text.split('\n');
  let current: { kind: 'record' | 'alert'; name: string } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const head = /^\s*- (record|alert): (\S+)/.exec(line);
    if (head) current = { kind: head[1] as 'record' | 'alert', name: head[2]! };
    const expr = /^(\s*)expr: (.*)$/.exec(line);
    if (!expr || current === undefined) continue;
    let value = expr[2]!;
    if (value === '>-' || value === '>') {
      const indent = expr[1]!.length;
      const parts: string[] = [];
      while (i + 1 < lines.length && /^\s*/.exec(lines[i + 1]!)![0].length > indent) {
        parts.push(lines[++i]!.trim());
      }
      value = parts.join(' ');
    }
    out.push({ ...current, expr: value });
  }
  return out;
}
