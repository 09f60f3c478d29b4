/**
 * A load with faults on the service example (test/helpers/service.ts), for
 * the tests of the operations kit: work requests, poisons (examples/service/
 * poison.mjs) and clients that leave mid-request; and the service's own
 * /metrics read back, to tell when its pool has come to rest.
 */
import http from 'node:http';
import { waitFor } from './events.js';

/** The deadpool counters of the service's own /metrics now. */
export async function scrape(base: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('deadpool_')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** GET `url` on a connection of its own, and close it after `ms` whatever happened. */
function leave(url: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false }, (response) => response.resume());
    request.on('error', () => {}); // the reset we cause
    request.on('close', () => resolve());
    setTimeout(() => request.destroy(), ms);
  });
}

/**
 * Requests on two connections, `poisons` one at a time in turn, and clients
 * that leave, until every poison was sent once and `enough()` holds (polled,
 * bounded by `timeoutMs`).
 */
export async function runLoad(
  base: string,
  poisons: readonly string[],
  { enough, timeoutMs, what }: { enough: () => Promise<boolean>; timeoutMs: number; what: string },
): Promise<void> {
  let stopped = false;
  const work = [0, 1].map(async (i) => {
    for (let n = 0; !stopped; n++) {
      const response =
        (n + i) % 2 === 0
          ? await fetch(`${base}/hash`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ password: `p${n}` }),
            })
          : await fetch(`${base}/render?rows=300`);
      await response.arrayBuffer();
    }
  });
  // A client that gives up on a slow request after 20-170 ms, one after another.
  const leavers = (async () => {
    for (let n = 0; !stopped; n++) {
      await leave(`${base}/render?rows=20000&title=${n}`, 20 + 15 * (n % 11));
    }
  })();
  // The poisons, one at a time, in turn, until a round is done and the scrapes are in.
  let poisoned = 0;
  const poisoner = (async () => {
    for (let n = 0; !stopped; n++) {
      const kind = poisons[n % poisons.length]!;
      const response = await fetch(`${base}/poison/${kind}`, { method: 'POST' });
      await response.arrayBuffer();
      poisoned = n + 1;
    }
  })();
  await waitFor(async () => poisoned >= poisons.length && (await enough()), {
    timeoutMs,
    intervalMs: 250,
    what,
  });
  stopped = true;
  await Promise.all([...work, leavers, poisoner]);
}

/** Every worker created has exited and been counted, or is idle; nothing waits. */
export function quiet(m: Map<string, number>): boolean {
  const get = (key: string): number => m.get(key) ?? NaN;
  const exits = [...m].filter(([k]) => k.startsWith('deadpool_worker_exits_total'));
  const idle = get('deadpool_workers{state="idle"}');
  const others = ['starting', 'busy', 'retiring'].map((s) => get(`deadpool_workers{state="${s}"}`));
  return (
    get('deadpool_backlog_tasks') === 0 &&
    others.every((n) => n === 0) &&
    get('deadpool_workers_created_total') === exits.reduce((a, [, n]) => a + n, 0) + idle
  );
}
