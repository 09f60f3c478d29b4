// The service's settings, from the environment, with the defaults it runs with.

function integer(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new RangeError(`Expected \`${name}\` to be an integer >= 0, got \`${raw}\` (string)`);
  return value;
}

const mode = process.env.SERVICE_MODE ?? 'pool';
if (mode !== 'pool' && mode !== 'inline')
  throw new RangeError(`Expected \`SERVICE_MODE\` to be 'pool' or 'inline', got \`${mode}\``);

const MiB = 1024 * 1024;

export const config = {
  port: integer('PORT', 3000),
  host: process.env.HOST ?? '127.0.0.1',
  logLevel: process.env.LOG_LEVEL ?? 'info',
  /** 'pool': CPU work in worker processes. 'inline': the same work on the event loop, for comparison. */
  mode,
  /** SERVICE_FAULTS=1 adds /poison/:kind and /debug/workers, for the load test. Never in production. */
  faults: process.env.SERVICE_FAULTS === '1',
  pool: {
    maxWorkers: integer('SERVICE_WORKERS', 2),
    // A hash takes ~5 ms; anything still running after this is stuck and gets SIGKILLed.
    timeout: integer('SERVICE_TIMEOUT_MS', 3_000),
    // A request that cannot start within this is answered 504 instead of running late.
    queueTimeout: integer('SERVICE_QUEUE_TIMEOUT_MS', 1_000),
    // Past this many waiting tasks, shed load with 503 at once.
    maxBacklog: integer('SERVICE_MAX_BACKLOG', 64),
    // Retire a worker after a task that left it this big (a leak)...
    maxWorkerMemoryBytes: integer('SERVICE_WORKER_MEMORY_MIB', 128) * MiB,
    // ...and SIGKILL one whose process tree passes this during a task (a runaway).
    memoryLimitBytes: integer('SERVICE_MEMORY_LIMIT_MIB', 192) * MiB,
  },
};
