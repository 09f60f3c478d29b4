// Runs one `node bench/scenario.mjs <lib> <scenario> <params>` process and
// returns its BENCH_RESULT, plus anything carrying its BENCH_TAG that outlived
// it (killed here and reported as orphans_after_exit).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { identities, killIdentities, processesWithEnv } from './procs.mjs';

const scenarioScript = fileURLToPath(new URL('../scenario.mjs', import.meta.url));

/**
 * How long a child may take to exit once it printed its result: its
 * process.exit() can deadlock on Node 26 (nodejs/node#54918), which held a
 * full run for the whole `limitMs` (180 s). It is killed then; its result
 * stands, and what it left behind is looked for as after any exit.
 */
export const RESULT_EXIT_MS = 5_000;

export function runChild(
  lib,
  scenario,
  params,
  {
    execArgv = [],
    env = {},
    limitMs = 180_000,
    exitMs = RESULT_EXIT_MS,
    script = scenarioScript,
  } = {},
) {
  const tag = randomUUID();
  const childEnv = { ...process.env, ...env, BENCH_TAG: tag };
  if (!env.DEADPOOL_BENCH_BASELINE) delete childEnv.DEADPOOL_BENCH_BASELINE;
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [...execArgv, script, lib, scenario, JSON.stringify(params)],
      { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    let exitTimer;
    child.stdout.on('data', (d) => {
      out += d;
      if (exitTimer === undefined && /^BENCH_RESULT .*\n/m.test(out)) {
        exitTimer = setTimeout(() => child.kill('SIGKILL'), exitMs);
      }
    });
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(exitTimer);
      // Anything with our tag that outlived the child is a leak; kill it.
      const orphans = processesWithEnv('BENCH_TAG', tag);
      killIdentities(identities(orphans)); // checked again right before each kill
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      let result;
      try {
        result = line ? JSON.parse(line.slice('BENCH_RESULT '.length)) : undefined;
      } catch {
        result = undefined;
      }
      result ??= {
        lib,
        scenario,
        error: `no result (exit ${code}, signal ${signal}); stderr: ${err.slice(-400)}`,
      };
      result.orphans_after_exit = orphans;
      resolve(result);
    });
  });
}
