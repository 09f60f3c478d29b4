// Routes for the load test only (SERVICE_FAULTS=1): poison tasks that break
// their worker, and the pids of workers a killer may shoot.
import { readFileSync } from 'node:fs';
import { poison, POISONS } from './poison.mjs';

/**
 * The workers that have started a task and not exited, with the task each
 * runs now (or null): targets for an outside SIGKILL. (A worker killed while
 * it is still starting counts as a failed start, a different fault.) Call
 * `started(future, name)` for each task.
 */
export function readyWorkers(pool) {
  const running = new Map(); // pid → the name of its task, or null when idle
  const starts = new Map(); // pid → its start time, so a killer can tell it from a later process with its pid
  pool.on('workerExit', ({ pid }) => {
    running.delete(pid);
    starts.delete(pid);
  });
  return {
    running,
    starts,
    started(future, name) {
      future.addPidCallback((f) => {
        const pid = f.pid;
        running.set(pid, name);
        if (!starts.has(pid)) starts.set(pid, childStart(pid));
        // Settles when the task ends, or earlier when its client left (the task may still run).
        f.addDoneCallback(() => {
          if (running.get(pid) === name) running.set(pid, null);
        });
      });
    },
  };
}

/**
 * The start time (clock ticks after boot, Linux /proc) of `pid` if it is a
 * child of this process, else undefined: a pool's worker cannot be reaped,
 * and its pid handed out again, but by this thread, so /proc names it.
 */
function childStart(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]) === process.pid ? Number(fields[19]) : undefined;
  } catch {
    return undefined;
  }
}

/** A Fastify plugin: POST /poison/:kind and GET /debug/workers. */
export async function faultRoutes(app, { offload, workers }) {
  app.post(
    '/poison/:kind',
    {
      schema: {
        params: {
          type: 'object',
          properties: { kind: { type: 'string', enum: POISONS } },
        },
      },
    },
    async (request) => {
      const { kind } = request.params;
      const signal = request.clientGone;
      return { result: await offload(poison, [kind], { signal, name: `poison:${kind}` }) };
    },
  );

  app.get('/debug/workers', async () => ({
    workers: [...workers.running].map(([pid, task]) => ({
      pid,
      start: workers.starts.get(pid),
      task,
    })),
  }));
}
