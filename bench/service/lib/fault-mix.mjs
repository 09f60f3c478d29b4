// One run of the service load test: the example service as a child process,
// autocannon on the work endpoints, a /health prober, clients that disconnect
// mid-request and, with faults on, a poisoner and a worker killer; then
// SIGTERM, and what the service reported and left behind.
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { quantile } from '../../lib/stats.mjs';
import { POISONS } from '../../../examples/service/poison.mjs';
import { explain, ownOutcome } from './causes.mjs';
import {
  request,
  startDisconnector,
  startHealthProbe,
  startKiller,
  startPoisoner,
} from './clients.mjs';
import { startService, terminate } from './service-process.mjs';

export { POISONS };

const json = { 'content-type': 'application/json' };
/** The work requests: a password hash (~5 ms of CPU) and a report render (~4 ms). */
export const WORK = [
  { route: 'hash', method: 'POST', path: '/hash', headers: json, body: '{"password":"hunter2"}' },
  { route: 'render', method: 'GET', path: '/render?rows=1000&title=load' },
];

/**
 * Options: `mode` ('pool' | 'inline'), `faults` (poisoner and killer; pool
 * mode only), `seconds` (fixed length) or `until(progress)` (stop once it
 * returns true, checked every 200 ms; `boundMs` caps it), `connections`
 * (autocannon), `killEveryMs`, `random`, `env` (service settings), and
 * `queueTimeouts` (whether a queue-phase 504 counts as explained).
 */
export async function runFaultMix(options) {
  const { mode = 'pool', faults = mode === 'pool', connections = 8, env = {} } = options;
  const { killEveryMs = 500, random = Math.random, boundMs = 600_000 } = options;
  const tag = `${process.pid}-${randomUUID()}`;
  const service = startService({ mode, faults, env, tag });
  let load;
  let end;
  try {
    load = await runLoad(service, options, { faults, connections, killEveryMs, random, boundMs });
  } finally {
    // SIGTERM, also when the load failed: the service must never outlive the run.
    // The poisoner's last request may still run: the service answers it before it closes.
    end = await terminate(service, tag);
    await load?.poisonerDone;
  }
  const { result, elapsedS, boundHit, workOk, workResponses, probe, leaving, poisoner, killer } =
    load;
  const poisonResponses = poisoner?.record.responses ?? [];
  const killed = killer?.record.killed ?? new Set();
  const queueTimeouts = options.queueTimeouts ?? true;
  const final = service.final();
  const s = final?.statistics;
  return {
    mode,
    elapsedS,
    boundHit,
    work: {
      ok: workOk,
      rps: workOk / elapsedS,
      latencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
    },
    health: {
      probes: probe.record.latenciesMs.length,
      failures: probe.record.failures,
      latencyMs: {
        p50: quantile(probe.record.latenciesMs, 0.5),
        p99: quantile(probe.record.latenciesMs, 0.99),
      },
    },
    faults: {
      kills: killer?.record.shots ?? 0,
      poisons: poisoner?.record.sent ?? {},
      poisonErrors: poisoner?.record.errors ?? [],
      poisonResponses,
      disconnects: leaving.record.sent,
      disconnectsAnswered: leaving.record.answered,
    },
    notOk: explain([...workResponses, ...poisonResponses], { killed, queueTimeouts }),
    service: {
      exit: { code: end.code, signal: end.signal, hung: end.hung, ms: end.exitMs },
      crashed: end.code !== 0 || end.signal !== null || end.hung || final === undefined,
      final,
      logs: service.logs,
      stderr: service.stderr().slice(-10_000),
      warnings: service
        .stderr()
        .split('\n')
        .filter((line) => /warning|error/i.test(line)),
      errorLogs: service.logs.filter((entry) => entry.level >= 50),
    },
    balance: s && {
      received: s.tasksReceived,
      completed: s.tasksCompleted,
      failed: s.tasksFailed,
      cancelled: s.tasksCancelled,
      balanced:
        s.tasksReceived === s.tasksCompleted + s.tasksFailed + s.tasksCancelled &&
        s.backlogSize === 0,
    },
    leftovers: { atExit: end.leftAtExit, after: end.left },
  };
}

/** The load of one run, up to the moment the service gets SIGTERM. */
async function runLoad(service, options, { faults, connections, killEveryMs, random, boundMs }) {
  const base = await service.ready;
  for (const spec of WORK) {
    for (let i = 0; i < 5; i++) {
      await request(`${base}${spec.path}`, {
        method: spec.method,
        body: spec.body && JSON.parse(spec.body),
      });
    }
  }

  const workResponses = [];
  let workOk = 0;
  const cannon = autocannon({
    url: base,
    connections,
    duration: options.seconds ?? 3_600,
    timeout: 120,
    requests: WORK.map(({ route, ...spec }) => ({
      ...spec,
      onResponse: (status, body) => {
        if (status >= 200 && status < 300) return void workOk++;
        let parsed = body;
        try {
          parsed = JSON.parse(body);
        } catch {
          // not JSON
        }
        workResponses.push({ route, status, body: parsed });
      },
    })),
  });
  const started = performance.now();
  const probe = startHealthProbe(base);
  const leaving = startDisconnector(base, WORK, { random });
  const poisoner = faults ? startPoisoner(base, POISONS) : undefined;
  const killer = faults ? startKiller(base, { everyMs: killEveryMs, random }) : undefined;

  const stopClients = () =>
    Promise.all([killer?.stop(), leaving.stop(), probe.stop(), poisoner?.stop()]);
  let boundHit;
  let result;
  try {
    ({ boundHit, result } = await untilDone(cannon, options, boundMs, () => ({
      elapsedMs: performance.now() - started,
      workOk,
      poisonsAnswered: countBy(poisoner?.record.responses ?? [], (r) => r.kind),
      poisonsOwn: countBy((poisoner?.record.responses ?? []).filter(ownOutcome), (r) => r.kind),
      kills: killer?.record.shots ?? 0,
      disconnects: leaving.record.sent,
    })));
  } catch (error) {
    cannon.stop();
    await stopClients();
    throw error;
  }
  const elapsedS = (performance.now() - started) / 1_000;
  await killer?.stop();
  await leaving.stop();
  await probe.stop();
  const poisonerDone = poisoner?.stop();
  return {
    result,
    elapsedS,
    boundHit,
    workOk,
    workResponses,
    probe,
    leaving,
    poisoner,
    killer,
    poisonerDone,
  };
}

/** Waits for autocannon: `seconds`, or until `options.until(progress())` (or `boundMs`), then stops it. */
async function untilDone(cannon, options, boundMs, progress) {
  let boundHit = false;
  if (options.until) {
    const started = performance.now();
    while (!options.until(progress())) {
      if (performance.now() - started > boundMs) {
        boundHit = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    cannon.stop();
  }
  return { boundHit, result: await cannon };
}

function countBy(items, key) {
  const out = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}
