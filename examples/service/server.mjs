// `npm run example:service`: a Fastify service that offloads its CPU work to
// one Deadpool, and shuts down on SIGTERM: the server first, then the pool.
// See docs/serving.md. Settings: config.mjs (environment).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Fastify, { LogController } from 'fastify';
import { Deadpool } from 'deadpool';
import { config } from './config.mjs';
import { readyWorkers } from './fault-routes.mjs';
import { routes } from './routes.mjs';

// Per-request log lines are off: under load they would be most of the output.
// What matters is logged where it happens: failures, clients that left, worker exits.
const app = Fastify({
  logger: { level: config.logLevel },
  logController: new LogController({ disableRequestLogging: true }),
});
const served = { byStatus: {} };

let pool;
let offload;
let workers;
if (config.mode === 'pool') {
  pool = new Deadpool({
    ...config.pool,
    // Workers' console output goes to the service's logger, a line at a time.
    onWorkerOutput: ({ pid, stream, line, taskName }) =>
      app.log[stream === 'stderr' ? 'warn' : 'info']({ worker: pid, task: taskName }, line),
  });
  pool.on('workerExit', ({ pid, reason, exitCode, signal }) =>
    app.log.info({ worker: pid, reason, exitCode, signal }, 'worker exited'),
  );
  workers = config.faults ? readyWorkers(pool) : undefined;
  offload = (task, args, { signal, name }) => {
    // A client that leaves cancels a waiting task; a running one is asked to
    // stop (taskSignal()) instead of being SIGKILLed, which would cost a fork.
    const future = pool.submit(task, args, { signal, abort: 'cooperative', name });
    workers?.started(future, name);
    return future;
  };
} else {
  // The same work on the event loop, for comparison (bench/service/run.mjs).
  offload = async (task, args) => task(...args);
}

await app.register(routes, { offload, pool, served, workers });

// How long the event loop is held up, sampled every 10 ms; reported at shutdown.
const LOOP_RESOLUTION_MS = 10;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });

let stopping;
async function shutdown(signal) {
  app.log.info({ signal }, 'shutting down: the server first, then the pool');
  loopDelay.disable();
  // No new connections; requests in flight finish, their tasks still running in the pool.
  await app.close();
  // Then the pool: waiting tasks run, running ones finish, and every worker
  // and every process a task started is gone when this resolves.
  await pool?.shutdown();
  // The histogram holds whole timer intervals; the delay is what exceeds the resolution.
  const ms = (ns) => Math.max(0, Math.round((ns / 1e6 - LOOP_RESOLUTION_MS) * 100) / 100);
  app.log.info(
    {
      mode: config.mode,
      statistics: pool?.getStatistics(),
      responses: served.byStatus,
      eventLoopDelayMs: {
        p50: ms(loopDelay.percentile(50)),
        p99: ms(loopDelay.percentile(99)),
        max: ms(loopDelay.max),
      },
    },
    'final statistics',
  );
  // Nothing is left to keep the process alive: it exits by itself, with code 0.
}
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    stopping ??= shutdown(signal).catch((error) => {
      app.log.error({ err: error }, 'shutdown failed');
      process.exitCode = 1;
    });
  });
}

await pool?.ready();
const address = await app.listen({ port: config.port, host: config.host });
loopDelay.enable();
const port = app.server.address().port;
app.log.info({ port, mode: config.mode, faults: config.faults, pid: process.pid }, 'service ready');

{
  const base = `http://${config.host}:${port}`;
  console.log(`
deadpool service (${config.mode}, ${config.pool.maxWorkers} workers) on ${address}. Try:
  curl -s ${base}/health
  curl -s -X POST ${base}/hash -H 'content-type: application/json' -d '{"password":"hunter2"}'
  curl -s '${base}/render?rows=2000&title=sales'
  curl -s ${base}/metrics
  kill -TERM ${process.pid}    # or Ctrl-C: the server closes first, then the pool
`);
}
