'use strict';
// The task bodies every library runs. CommonJS so that every peer's worker
// (some of which only load CommonJS) can share one copy.
const fs = require('node:fs');

/** Returns x + 1: the smallest possible task. */
exports.inc = (x) => x + 1;

/** Returns its argument unchanged: a payload round trip. */
exports.echo = (b) => b;

/**
 * Burns CPU for a fixed amount of work (not wall time, so contention shows).
 * `iterations` is calibrated by bench/run.mjs to take ~50 ms on an idle core.
 */
exports.spin = (iterations) => {
  let h = 2166136261;
  for (let i = 0; i < iterations; i++) h = Math.imul(h ^ i, 16777619);
  return h >>> 0;
};

/** Writes this process's pid to `marker`, then loops forever. */
exports.forever = (marker) => {
  fs.writeFileSync(marker, String(process.pid));
  for (;;);
};

/** Resolves after `ms` without using the CPU. */
exports.sleep = (ms) => new Promise((resolve) => setTimeout(() => resolve(ms), ms));

/** Returns the worker's pid. */
exports.pid = () => process.pid;

/** Throws an Error (a task failure that leaves the worker alive). */
exports.boom = (message) => {
  throw new Error(String(message));
};

/** Exits the worker process in the middle of a task. */
exports.exitNow = (code) => process.exit(code);

/**
 * Writes this process's pid to `marker`, then blocks its event loop without
 * using the CPU (Atomics.wait in 2 ms slices) until the file `release`
 * exists or `maxMs` passed. Returns the pid. Keeps one worker busy while a
 * fault scenario watches the other.
 */
exports.hold = ({ marker, release, maxMs = 60_000 }) => {
  fs.writeFileSync(marker, String(process.pid));
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const end = Date.now() + maxMs;
  while (!fs.existsSync(release) && Date.now() < end) Atomics.wait(cell, 0, 0, 2);
  return process.pid;
};

/**
 * This worker's clocks, for the cold-start breakdown: its pid, its
 * `performance.timeOrigin` (epoch ms when the process started), the moment
 * the task ran (ms since that origin), Node's own start-up milestones, and
 * the marks of bench/workers/boot-probe.cjs when it was preloaded.
 */
exports.probe = () => {
  const { nodeStart, v8Start, environment, bootstrapComplete } = performance.nodeTiming;
  return {
    pid: process.pid,
    timeOrigin: performance.timeOrigin,
    now: performance.now(),
    node: { nodeStart, v8Start, environment, bootstrapComplete },
    marks: globalThis.__benchBootMarks ?? null,
  };
};

/** Loops forever without touching the file system (for timeouts). */
exports.loop = () => {
  for (;;);
};

// The fault matrix's task bodies (bench/faults/), available to every library's worker.
Object.assign(exports, require('./faults.cjs'));
