// deadpool's view of the shared task bodies: one defined task per function.
// With DEADPOOL_BENCH_BASELINE=<dir> (set by run.mjs for the deadpool-baseline
// rows only, and inherited by that pool's workers) the tasks are defined with
// <dir>/dist instead of this checkout's dist.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const baseline = process.env.DEADPOOL_BENCH_BASELINE;
const { defineTask } = await import(
  baseline ? pathToFileURL(join(baseline, 'dist', 'task-module.js')).href : '../dist/task-module.js'
);
const fns = createRequire(import.meta.url)('./workers/fns.cjs');

export const inc = defineTask(import.meta.url, 'inc', (x) => fns.inc(x));
export const echo = defineTask(import.meta.url, 'echo', (b) => fns.echo(b));
export const spin = defineTask(import.meta.url, 'spin', (n) => fns.spin(n));
export const forever = defineTask(import.meta.url, 'forever', (marker) => fns.forever(marker));
export const hold = defineTask(import.meta.url, 'hold', (o) => fns.hold(o));
export const sleep = defineTask(import.meta.url, 'sleep', (ms) => fns.sleep(ms));
export const pid = defineTask(import.meta.url, 'pid', () => fns.pid());
export const probe = defineTask(import.meta.url, 'probe', () => fns.probe());
export const boom = defineTask(import.meta.url, 'boom', (message) => fns.boom(message));
export const exitNow = defineTask(import.meta.url, 'exitNow', (code) => fns.exitNow(code));
export const loop = defineTask(import.meta.url, 'loop', () => fns.loop());
export const grandchildrenLoop = defineTask(import.meta.url, 'grandchildrenLoop', (o) =>
  fns.grandchildrenLoop(o),
);
export const poison = defineTask(import.meta.url, 'poison', () => fns.poison());
export const oom = defineTask(import.meta.url, 'oom', () => fns.oom());
export const daemon = defineTask(import.meta.url, 'daemon', () => fns.daemon());
export const forkBomb = defineTask(import.meta.url, 'forkBomb', (d) => fns.forkBomb(d));
export const garbage = defineTask(import.meta.url, 'garbage', () => fns.garbage());
export const busy = defineTask(import.meta.url, 'busy', (marker) => fns.busy(marker));
