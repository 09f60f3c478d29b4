// The HTTP surface: a cheap /health, /metrics, and two CPU-bound endpoints
// whose work goes through `offload` (the pool, or inline for comparison);
// the pool's errors become status codes in one error handler.
import { hashPassword, renderReport } from './tasks.mjs';
import { faultRoutes } from './fault-routes.mjs';
import { poolErrorResponse } from './http-errors.mjs';
import { metricsText } from './metrics.mjs';

/**
 * A Fastify plugin. Options:
 * - `offload(task, args, { signal, name })` → a promise (or future) of the result;
 * - `pool`: the Deadpool, or undefined when the work runs inline;
 * - `served`: counters the service reports at shutdown (`byStatus`);
 * - `workers`: with SERVICE_FAULTS=1, the ready workers (fault-routes.mjs), and the fault routes are added.
 */
export async function routes(app, { offload, pool, served, workers }) {
  app.decorateRequest('clientGone', null);

  // Every request gets a signal that aborts if its client disconnects before
  // the response is written, so its task is cancelled if it still waits, or
  // asked to stop (taskSignal()) if it runs.
  app.addHook('onRequest', async (request, reply) => {
    const controller = new AbortController();
    request.clientGone = controller.signal;
    // The Node gotcha: `request.raw.on('close')` is NOT "the client left". An
    // IncomingMessage is a readable stream, and its 'close' fires as soon as
    // the request body has been read, so every POST would look abandoned
    // before its handler ran. The response's 'close' fires when the response
    // is done or the connection is gone; only an unfinished response means
    // the client left first. (Fastify's onResponse hook does not run then.)
    reply.raw.once('close', () => {
      const finished = reply.raw.writableFinished;
      if (!finished) controller.abort(new Error('the client closed the connection'));
      const status = finished ? reply.statusCode : 499;
      served.byStatus[status] = (served.byStatus[status] ?? 0) + 1;
    });
  });

  // fastify.close() waits for every connection to end. A keep-alive
  // connection whose request was still in flight when close() began stays
  // open after its response (Node closes idle connections once, at close()),
  // and holds close() until the client drops it: 5 s for Node's own agent,
  // minutes for others. From then on, answer with `Connection: close`.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });

  app.setErrorHandler(async (error, request, reply) => {
    if (request.clientGone.aborted) {
      // Nobody is left to answer: the 499 (nginx's "client closed request") is for the
      // log and the counters; nothing reaches the closed connection.
      request.log.info({ statusCode: 499, err: error.code ?? error.name }, 'client closed request');
      return reply.code(499).send();
    }
    const mapped = poolErrorResponse(error);
    if (mapped) {
      request.log.warn({ statusCode: mapped.status, ...mapped.body }, 'task not done');
      if (mapped.status === 503) reply.header('retry-after', '1');
      return reply.code(mapped.status).send(mapped.body);
    }
    if (error.statusCode >= 400 && error.statusCode < 500) return reply.send(error); // validation
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: 'the task failed' });
  });

  // Cheap, and never touches the pool: its latency shows whether the event loop is free.
  app.get('/health', async () => ({ ok: true }));

  app.get('/metrics', async (_request, reply) =>
    reply.type('text/plain; version=0.0.4').send(metricsText(pool, served)),
  );

  app.post(
    '/hash',
    {
      schema: {
        body: {
          type: 'object',
          required: ['password'],
          properties: {
            password: { type: 'string', minLength: 1, maxLength: 1024 },
            salt: { type: 'string', maxLength: 64, default: 'deadpool-example' },
          },
        },
      },
    },
    async (request) => {
      const { password, salt } = request.body;
      const signal = request.clientGone;
      return { hash: await offload(hashPassword, [password, salt], { signal, name: 'hash' }) };
    },
  );

  app.get(
    '/render',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            title: { type: 'string', maxLength: 200, default: 'report' },
            rows: { type: 'integer', minimum: 1, maximum: 20_000, default: 1_000 },
          },
        },
      },
    },
    async (request, reply) => {
      const { title, rows } = request.query;
      const signal = request.clientGone;
      const html = await offload(renderReport, [title, rows], { signal, name: 'render' });
      return reply.type('text/html').send(html);
    },
  );

  // Registered here so that they share the hooks and the error handler above.
  if (workers) await app.register(faultRoutes, { offload, workers });
}
