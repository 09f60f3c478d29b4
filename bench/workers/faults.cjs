'use strict';
// Task bodies of the fault matrix (bench/faults/). Every process they start
// inherits the environment, so the matrix finds what is left behind by the
// FAULT_TAG variable its case process was given. Each one is bounded: sleeps
// end after 1,000 s at most, the fork bomb stops at a fixed depth.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');

const SLEEP_S = '1000';

/** Starts `n` children (`sleep`), writes this pid to `marker`, then loops forever. */
exports.grandchildrenLoop = ({ n = 3, marker }) => {
  for (let i = 0; i < n; i++) spawn('sleep', [SLEEP_S], { stdio: 'ignore' }).unref();
  fs.writeFileSync(marker, String(process.pid));
  for (;;);
};

/** Kills its own worker: every worker it lands on dies (a poison task). */
exports.poison = () => {
  process.kill(process.pid, 'SIGKILL');
  for (;;);
};

/** Allocates until the heap is exhausted (the matrix caps it with --max-old-space-size). */
exports.oom = () => {
  const hoard = [];
  for (;;) hoard.push(new Array(1e5).fill(hoard.length));
};

/**
 * Starts a daemon the way `git gc --auto` or gpg-agent do: setsid plus a
 * double fork, so the sleeper is in its own session and its parent is gone.
 * Returns once the intermediate shell exited.
 */
exports.daemon = () => {
  spawnSync('sh', ['-c', `setsid sh -c "sleep ${SLEEP_S} &"`], { stdio: 'ignore' });
  return process.pid;
};

/**
 * A bounded fork bomb: each shell starts two more down to `depth` (2^(depth+1)
 * - 1 processes, 63 at depth 5), each then sleeps. Returns once started.
 */
exports.forkBomb = (depth = 5) => {
  const script = `b() { if [ "$1" -gt 0 ]; then b $(($1-1)) & b $(($1-1)) & fi; exec sleep ${SLEEP_S}; }; b ${Number(depth)} &`;
  spawnSync('sh', ['-c', script], { stdio: 'ignore' });
  return process.pid;
};

/** Writes garbage to stdout (bytes, a fake JSON frame, a long line), then answers 42. */
exports.garbage = () => {
  fs.writeSync(
    1,
    '\u0000\u0001{"garbage": [1,2,\n' + 'x'.repeat(70_000) + '\nContent-Length: 9\r\n\r\n',
  );
  process.stdout.write('{"id":1,"result":"not a result"}\n');
  return 42;
};

/** Writes this pid to `marker`, then loops forever (as `forever`, for the outside-kill rows). */
exports.busy = (marker) => {
  fs.writeFileSync(marker, String(process.pid));
  for (;;);
};
