// The clients of the load test besides autocannon: a poisoner, a worker
// killer, clients that disconnect mid-request, and a /health prober. Each
// starts at once and has an async `stop()` that resolves when its last
// request is done; what each saw is in its `record`.
import http from 'node:http';
import { isStillRunning } from '../../lib/procs.mjs';

/** One HTTP request; resolves with `{ status, body }` (body parsed as JSON when it can be). */
export function request(url, { method = 'GET', body, agent } = {}) {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-type': 'application/json' };
    const req = http.request(url, { method, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        let parsed = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends one poison request at a time, the kinds in turn, with `gapMs`
 * between. One at a time, so that a poison holds at most one worker.
 */
export function startPoisoner(base, kinds, { gapMs = 250 } = {}) {
  const record = { sent: {}, responses: [], errors: [] };
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      const kind = kinds[i % kinds.length];
      record.sent[kind] = (record.sent[kind] ?? 0) + 1;
      try {
        const { status, body } = await request(`${base}/poison/${kind}`, { method: 'POST' });
        record.responses.push({ route: `poison:${kind}`, kind, status, body });
      } catch (error) {
        record.errors.push(`${kind}: ${error.code ?? error.message}`);
      }
      if (!stopped) await pause(gapMs);
    }
  })();
  return { record, stop: () => ((stopped = true), loop) };
}

/**
 * Every `everyMs`, SIGKILLs a random worker among those the service lists at
 * /debug/workers (workers that have started a task), sparing any that runs a
 * poison: the poison's own fault is what the test wants to see. `random`
 * gives [0, 1). The list is stale by the time it arrives (a worker that died
 * may still be on it, and its pid be someone else's): a victim is shot only
 * if its pid still has the start time the service listed, checked right before.
 */
export function startKiller(base, { everyMs = 500, random = Math.random } = {}) {
  const record = { killed: new Set(), shots: 0, empty: 0 };
  let busy;
  const timer = setInterval(() => {
    if (busy) return;
    busy = (async () => {
      try {
        const { body } = await request(`${base}/debug/workers`);
        const targets = (body.workers ?? []).filter(
          ({ task, start }) => !task?.startsWith('poison:') && start !== undefined,
        );
        if (targets.length === 0) return void record.empty++;
        const victim = targets[Math.floor(random() * targets.length)];
        if (!isStillRunning(victim)) return; // it died meanwhile
        record.killed.add(victim.pid); // before the kill: its 502 may arrive before we look again
        process.kill(victim.pid, 'SIGKILL');
        record.shots++;
      } catch {
        // the worker was already gone, or the service is closing
      } finally {
        busy = undefined;
      }
    })();
  }, everyMs);
  return {
    record,
    stop: async () => {
      clearInterval(timer);
      await busy;
    },
  };
}

/**
 * Every `everyMs`, a client on a fresh connection sends a work request and
 * closes the connection 1–`maxAfterMs` ms later, before or while its task runs.
 */
export function startDisconnector(
  base,
  requests,
  { everyMs = 100, maxAfterMs = 30, random = Math.random } = {},
) {
  const record = { sent: 0, answered: 0 };
  const inflight = new Set();
  let n = 0;
  const timer = setInterval(() => {
    const spec = requests[n++ % requests.length];
    record.sent++;
    const done = new Promise((resolve) => {
      const req = http.request(`${base}${spec.path}`, {
        method: spec.method,
        headers: spec.headers,
        agent: false,
      });
      req.on('response', (res) => {
        record.answered++; // it was quicker than the disconnect
        res.resume();
      });
      req.on('error', () => {}); // ECONNRESET: we closed it
      req.on('close', resolve);
      req.end(spec.body);
      setTimeout(() => req.destroy(), 1 + Math.floor(random() * maxAfterMs));
    });
    inflight.add(done);
    void done.then(() => inflight.delete(done));
  }, everyMs);
  return {
    record,
    stop: async () => {
      clearInterval(timer);
      await Promise.all(inflight);
    },
  };
}

/**
 * GET /health every `everyMs` on a keep-alive agent, without waiting for the
 * previous answer. Latency counts from when the probe was due, so a stalled
 * event loop shows in full (no coordinated omission).
 */
export function startHealthProbe(base, { everyMs = 20 } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const record = { latenciesMs: [], failures: 0 };
  const inflight = new Set();
  const timer = setInterval(() => {
    const due = performance.now();
    const done = request(`${base}/health`, { agent }).then(
      ({ status }) => {
        if (status === 200) record.latenciesMs.push(performance.now() - due);
        else record.failures++;
      },
      () => void record.failures++,
    );
    inflight.add(done);
    void done.then(() => inflight.delete(done));
  }, everyMs);
  return {
    record,
    stop: async () => {
      clearInterval(timer);
      await Promise.all(inflight);
      agent.destroy();
    },
  };
}
