// One measurement in a fresh process:
//   node bench/scenario.mjs <library> <scenario> [json-params]
// Imports the library's adapter (timed: the cold scenario reports it), runs the
// scenario (bench/scenarios/*.mjs), closes the pool, kills and reports whatever
// the library left behind, and prints exactly one line `BENCH_RESULT {json}`.
import { loadAdapter } from './adapters/index.mjs';
import {
  descendantsOf,
  identities,
  isRunning,
  killIdentities,
  processesWithEnv,
} from './lib/procs.mjs';
import { now, round } from './lib/stats.mjs';
import { bounded, pollUntil } from './lib/wait.mjs';
import { backlog, million } from './scenarios/load.mjs';
import { kill, shutdown, timeout } from './scenarios/faults.mjs';
import { cold, coldBreakdown } from './scenarios/startup.mjs';
import { containment } from './scenarios/containment.mjs';
import { cpu, latency, payload, tiny } from './scenarios/throughput.mjs';

const [lib, scenario, paramsJson = '{}'] = process.argv.slice(2);
const params = JSON.parse(paramsJson);
const BOUND = params.bound ?? 5000;
const LINGER_MS = 1000;

const scenarios = {
  tiny,
  payload,
  latency,
  cpu,
  cold,
  'cold-breakdown': coldBreakdown,
  timeout,
  kill,
  shutdown,
  backlog,
  million,
  containment,
};
/** Scenarios that import the library themselves, to time the parts. */
const SELF_IMPORTING = new Set(['cold-breakdown', 'containment']);

/**
 * Whatever the library left behind: our descendants still alive 1 s after its
 * close returned (a worker on its way out is not left behind; the shutdown
 * scenario times that), and anything carrying our tag.
 */
async function killLeftovers() {
  await pollUntil(() => descendantsOf(process.pid).filter(isRunning).length === 0, LINGER_MS);
  const leftover = new Set(descendantsOf(process.pid).filter(isRunning));
  if (process.env.BENCH_TAG)
    for (const p of processesWithEnv('BENCH_TAG', process.env.BENCH_TAG)) leftover.add(p);
  // By identity, read as they were found: a pid freed meanwhile may be anyone's.
  killIdentities(identities([...leftover]));
  return leftover;
}

async function main() {
  const run = scenarios[scenario];
  if (!run) throw new Error(`unknown scenario ${scenario}`);
  const started = now();
  let create;
  let importMs;
  if (!SELF_IMPORTING.has(scenario)) {
    create = await loadAdapter(lib);
    importMs = now() - started;
  }
  const { a, result } = await run(create, { lib, params, importMs });
  let closeMs = 'n/a';
  if (a) {
    const t = now();
    const closed = await bounded(
      Promise.resolve(a.close()).then(
        () => true,
        () => true,
      ),
      BOUND,
    );
    closeMs = closed === '__bound__' ? 'hung' : round(now() - t, 1);
  }
  const leftover = await killLeftovers();
  const out = {
    lib,
    scenario,
    ...result,
    close_ms: closeMs,
    leftover: [...leftover],
    wall_ms: round(now() - started, 0),
  };
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(out)}\n`);
  process.exit(0);
}

main().catch(async (error) => {
  const leftover = await killLeftovers();
  const out = { lib, scenario, error: String(error?.stack ?? error), leftover: [...leftover] };
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(out)}\n`);
  process.exit(1);
});
