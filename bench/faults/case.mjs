// One cell of the fault matrix in a fresh process:
//   FAULT_TAG=<id> node bench/faults/case.mjs <library> <fault>
// Builds the library's pool (2 workers), runs one warm-up task, injects the
// fault, then checks that the faulted future settles and that a fresh task
// still completes, and closes the pool; each step bounded. Prints one line
// `FAULT_RESULT {json}`. What the pool left behind is counted by run.mjs
// after this process exits (every process started here carries FAULT_TAG).
// Fault `parent-kill` instead prints `FAULT_BUSY` once both workers are busy
// in endless loops, and waits for run.mjs to SIGKILL this process.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAdapter } from '../adapters/index.mjs';
import { descendantsOf, isRunning } from '../lib/procs.mjs';
import { bounded, pollUntil, watch } from '../lib/wait.mjs';

const [lib, fault] = process.argv.slice(2);
const BOUND = 10_000;
const TIMEOUT_MS = 500;
const marker = (i) => join(tmpdir(), `fault-${process.pid}-${i}.pid`);

/** The pid a task wrote to `file`, once it is a positive integer (bounded), else undefined. */
async function pidFrom(file) {
  let pid;
  await pollUntil(() => {
    try {
      const text = readFileSync(file, 'utf8');
      if (/^\d+$/.test(text) && Number(text) > 0) pid = Number(text);
    } catch {
      // not yet
    }
    return pid !== undefined;
  }, BOUND);
  return pid;
}

/** fault → [task, argument, needs a timeout] */
const FAULTS = {
  'timeout-grandchildren': ['grandchildrenLoop', { n: 3, marker: marker(0) }, true],
  'outside-kill': ['busy', marker(0), false],
  'process-exit': ['exitNow', 3, false],
  oom: ['oom', null, false],
  poison: ['poison', null, false],
  daemon: ['daemon', null, false],
  'fork-bomb': ['forkBomb', 5, false],
  'stdout-garbage': ['garbage', null, false],
};

const state = (w) =>
  w.at === undefined
    ? 'pending'
    : w.ok
      ? 'resolved'
      : `rejected: ${String(w.error?.message ?? w.error).slice(0, 70)}`;

async function parentKill(a) {
  const calls = [0, 1].map((i) => a.call('busy', marker(i)));
  for (const c of calls) c.catch(() => {});
  const pids = [];
  for (const i of [0, 1]) pids.push(await pidFrom(marker(i)));
  process.stdout.write(`FAULT_BUSY ${JSON.stringify(pids)}\n`);
  await new Promise(() => {}); // run.mjs SIGKILLs us now
}

async function main() {
  const create = await loadAdapter(lib);
  const [task, arg, needsTimeout] = FAULTS[fault] ?? [];
  const a = await create({
    workers: 2,
    ...(needsTimeout && { timeout: TIMEOUT_MS }),
    callsPerWorker: 1,
  });
  const warm = await bounded(a.call('inc', 1), BOUND);
  if (warm !== 2) throw new Error(`warm-up gave ${String(warm)}`);
  if (fault === 'parent-kill') return parentKill(a);
  if (!task) throw new Error(`unknown fault ${fault}`);
  if (needsTimeout && !a.timeoutSupport) return { result: 'n/a', a };
  const faulted = watch(a.call(task, arg, needsTimeout ? { timeout: TIMEOUT_MS } : {}));
  if (fault === 'outside-kill') {
    const pid = await pidFrom(marker(0));
    // Only a live descendant of ours: the worker running the task, right now.
    if (pid !== undefined && descendantsOf(process.pid).includes(pid) && isRunning(pid))
      process.kill(pid, 'SIGKILL');
  }
  await pollUntil(() => faulted.at !== undefined, BOUND);
  const next = watch(a.call('inc', 41));
  await pollUntil(() => next.at !== undefined, BOUND);
  return {
    a,
    result: {
      faulted: state(faulted),
      value: faulted.ok ? faulted.value : undefined,
      next: next.at === undefined ? 'pending' : next.ok && next.value === 42 ? 'ok' : state(next),
      pending: [faulted, next].filter((w) => w.at === undefined).length,
    },
  };
}

let out;
try {
  const { a, result } = await main();
  const closed = await bounded(
    Promise.resolve(a.close()).then(
      () => 'ok',
      (e) => `rejected: ${e?.message}`,
    ),
    BOUND,
  );
  out = {
    ...(typeof result === 'string' ? { na: true } : result),
    close: closed === '__bound__' ? 'hung' : closed,
  };
} catch (error) {
  out = { error: String(error?.message ?? error).slice(0, 200) };
}
for (const i of [0, 1]) rmSync(marker(i), { force: true });
process.stdout.write(`FAULT_RESULT ${JSON.stringify(out)}\n`);
process.exit(0);
