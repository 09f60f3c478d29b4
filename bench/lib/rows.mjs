// What each library id is called in the tables and the chart, and which rows
// are references (raw child_process.fork dispatchers, not pools) or the
// deadpool baseline of a --baseline run.

const LABELS = {
  raw: 'raw fork (reference)',
  'raw-json': 'raw fork, JSON',
  'raw-pipelined': 'raw fork, pipelined',
  'raw-pipe64': 'raw fork, pipelined',
  'raw-ceiling': 'raw IPC ceiling',
  deadpool: 'deadpool',
  'deadpool-map': 'deadpool map()',
  'deadpool-nocache': 'deadpool, code cache off',
  'deadpool-baseline': 'deadpool baseline',
  'deadpool-map-baseline': 'deadpool map() baseline',
};

/** The row's name in the tables: its label, with the library id when they differ. */
export function rowName(lib, { baseline } = {}) {
  const label = LABELS[lib] ?? lib;
  const at = lib.endsWith('-baseline') && baseline ? ` @ ${baseline.short}` : '';
  return label === lib ? lib : `${label}${at} \`${lib}\``;
}

/** Short label for the chart. */
export function chartLabel(lib, { baseline } = {}) {
  const label = LABELS[lib] ?? lib;
  return lib.endsWith('-baseline') && baseline ? `${label} @ ${baseline.short}` : label;
}

/** 'reference' | 'deadpool' | 'baseline' | 'peer' */
export function kindOf(lib) {
  if (lib.startsWith('raw')) return 'reference';
  if (lib.endsWith('-baseline')) return 'baseline';
  if (lib.startsWith('deadpool')) return 'deadpool';
  return 'peer';
}

/** The baseline row a deadpool row is compared with, if any. */
export const baselineOf = (lib) => (kindOf(lib) === 'deadpool' ? `${lib}-baseline` : undefined);
