/**
 * The Prometheus text exposition format, version 0.0.4, with no dependency:
 * escaping, number formatting, and a writer of metric families (HELP and TYPE
 * once per family, then its samples). It knows nothing of pools; the pool's
 * metrics are listed in metrics.ts.
 */
import { invalid } from './validate.js';

/** Label names as the format allows them (names starting with `__` are reserved on top of this). */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Metric names, without the colon (reserved for recording rules). */
export const METRIC_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label value inside double quotes: backslash, double quote and line feed are escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** HELP text: backslash and line feed are escaped. */
export function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

/** A sample value as Go's ParseFloat reads it: `+Inf`, `-Inf`, `NaN`, or JavaScript's shortest form. */
export function formatValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value); // NaN → 'NaN'; 1e-7 and 1e+21 parse as they are
}

/** Labels as `{a="x",b="y"}`, or nothing when there are none. */
export function formatLabels(labels: readonly (readonly [string, string])[]): string {
  if (labels.length === 0) return '';
  return `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

export type MetricType = 'counter' | 'gauge' | 'histogram';

export type Labels = readonly (readonly [string, string])[];

/** Collects families and samples; `common` labels go first on every sample. */
export class Exposition {
  readonly #lines: string[] = [];
  readonly #common: Labels;

  constructor(common: Labels = []) {
    this.#common = common;
  }

  /** Start a family: its HELP and TYPE lines. Its samples must follow before the next family. */
  family(name: string, type: MetricType, help: string): this {
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, labels: Labels, value: number): this {
    this.#lines.push(`${name}${formatLabels([...this.#common, ...labels])} ${formatValue(value)}`);
    return this;
  }

  /**
   * A histogram's series for one label set: a `_bucket` per bound and `+Inf`
   * (cumulative counts, `cumulative.length === bounds.length + 1`), `_sum`, `_count`.
   */
  histogram(
    name: string,
    labels: Labels,
    bounds: readonly number[],
    cumulative: readonly number[],
    sum: number,
  ): this {
    for (let i = 0; i <= bounds.length; i++) {
      const le = i < bounds.length ? formatValue(bounds[i]!) : '+Inf';
      this.sample(`${name}_bucket`, [...labels, ['le', le]], cumulative[i]!);
    }
    this.sample(`${name}_sum`, labels, sum);
    return this.sample(`${name}_count`, labels, cumulative[bounds.length]!);
  }

  toString(): string {
    return this.#lines.length === 0 ? '' : `${this.#lines.join('\n')}\n`;
  }
}

interface Block {
  head: string[];
  type: string | undefined;
  samples: string[];
}

/**
 * Join several expositions (as `metrics()` writes them: each family a HELP
 * line, a TYPE line, then its samples) into one. The format allows one HELP
 * and TYPE per family with its samples together, so concatenating two pools'
 * metrics is invalid; this groups the samples of each family instead, in the
 * order families are first seen. The pools must differ by their `labels`.
 */
export function mergeMetrics(...texts: string[]): string {
  const families = new Map<string, Block>();
  for (const text of texts) {
    if (typeof text !== 'string') invalid('texts', 'strings', text);
    let block: Block | undefined;
    for (const line of text.split('\n')) {
      const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (meta === null) {
        if (line === '' || line.startsWith('#')) continue;
        if (block === undefined) invalid('texts', 'expositions starting with a HELP line', text);
        block.samples.push(line);
        continue;
      }
      const [, kind, name = '', rest = ''] = meta;
      block = families.get(name);
      if (block === undefined) {
        block = { head: [], type: undefined, samples: [] };
        families.set(name, block);
      }
      if (kind === 'HELP') {
        if (block.head.length === 0) block.head.push(line);
      } else if (block.type === undefined) {
        block.type = rest;
        block.head.push(line);
      } else if (block.type !== rest) {
        throw new TypeError(
          `metric ${name} is a ${block.type} in one text and a ${rest} in another`,
        );
      }
    }
  }
  let out = '';
  for (const { head, samples } of families.values()) out += `${[...head, ...samples].join('\n')}\n`;
  return out;
}
