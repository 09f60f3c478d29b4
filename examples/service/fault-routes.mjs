// Routes for the load test only (SERVICE_FAULTS=1): poison tasks that break
// their worker, and the pids of workers a killer may shoot.
import { poison, POISONS } from './poison.mjs';

/**
 * The workers that have started a task and not exited: safe targets for an
 * outside SIGKILL. (A worker killed while it is still starting counts as a
 * failed start, a different fault.) Call `started(future)` for each task.
 */
export function readyWorkers(pool) {
  const pids = new Set();
  pool.on('workerExit', ({ pid }) => pids.delete(pid));
  return {
    pids,
    started(future) {
      future.addPidCallback((f) => pids.add(f.pid));
    },
  };
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

  app.get('/debug/workers', async () => ({ pids: [...workers.pids] }));
}
