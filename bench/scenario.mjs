// One measurement in a fresh process:
//   node bench/scenario.mjs <library> <scenario> [json-params]
// Prints exactly one line `BENCH_RESULT {json}` on stdout, then exits.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { loadAdapter } from './adapters/index.mjs';
import { childrenOf, descendantsOf, isRunning, processesWithEnv } from './lib/procs.mjs';
import { median, now, quantile } from './lib/stats.mjs';

const [lib, scenario, paramsJson = '{}'] = process.argv.slice(2);
const params = JSON.parse(paramsJson);
const BOUND = params.bound ?? 5000;

const round = (x, digits = 2) => (typeof x === 'number' ? Number(x.toFixed(digits)) : x);
const since = (t, origin) => (t === undefined ? 'never' : round(t - origin, 1));

async function bounded(promise, ms) {
  let timer;
  const limit = new Promise((resolve) => {
    timer = setTimeout(() => resolve('__bound__'), ms);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

async function warm(a, n = 200) {
  await Promise.all(Array.from({ length: n }, (_, i) => a.call('inc', i)));
}

const payloadLength = (r) => r?.length ?? r?.byteLength ?? r?.data?.length;

const scenarios = {
  async tiny(create) {
    const n = params.n ?? 20000;
    const a = await create({ workers: 2 });
    await warm(a);
    let sum = 0;
    const t = now();
    if (lib === 'deadpool-map') {
      async function* items() {
        for (let i = 0; i < n; i++) yield i;
      }
      for await (const r of a.pool.map(a.tasks.inc, items())) sum += r;
    } else {
      const rs = await Promise.all(Array.from({ length: n }, (_, i) => a.call('inc', i)));
      for (const r of rs) sum += r;
    }
    const seconds = (now() - t) / 1000;
    if (sum !== (n * (n + 1)) / 2) throw new Error(`wrong sum ${sum}`);
    return {
      a,
      result: { value: round(n / seconds, 0), unit: 'tasks/s', n, seconds: round(seconds, 3) },
    };
  },

  async payload(create) {
    const size = params.size ?? 100_000;
    const count = params.count ?? 500;
    const a = await create({ workers: 2 });
    const buf = Buffer.alloc(size, 7);
    await Promise.all([a.call('echo', buf), a.call('echo', buf)]);
    const t = now();
    const rs = await Promise.all(Array.from({ length: count }, () => a.call('echo', buf)));
    const seconds = (now() - t) / 1000;
    for (const r of rs)
      if (payloadLength(r) !== size) throw new Error(`bad echo length ${payloadLength(r)}`);
    return {
      a,
      result: {
        value: round((size * count) / 1e6 / seconds, 1),
        unit: 'MB/s',
        size,
        count,
        seconds: round(seconds, 3),
      },
    };
  },

  async latency(create) {
    const n = params.n ?? 2000;
    const a = await create({ workers: 2 });
    for (let i = 0; i < 100; i++) await a.call('inc', i);
    const us = [];
    for (let i = 0; i < n; i++) {
      const t = process.hrtime.bigint();
      await a.call('inc', i);
      us.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    return {
      a,
      result: { value: round(median(us), 1), unit: 'µs', p99: round(quantile(us, 0.99), 1), n },
    };
  },

  async cpu(create) {
    const iterations = params.iterations;
    const tasks = params.tasks ?? 40;
    const ms = {};
    for (const workers of [1, 2]) {
      const a = await create({ workers });
      await Promise.all([a.call('spin', 1000), a.call('spin', 1000)]);
      const t = now();
      await Promise.all(Array.from({ length: tasks }, () => a.call('spin', iterations)));
      ms[workers] = now() - t;
      await a.close();
    }
    return {
      a: undefined,
      result: {
        value: round(ms[1] / ms[2], 2),
        unit: '×',
        ms1: round(ms[1], 0),
        ms2: round(ms[2], 0),
        tasks,
      },
    };
  },

  async cold(create) {
    const t = now();
    const a = await create({ workers: 2 });
    const first = await a.call('inc', 1);
    const value = now() - t;
    if (first !== 2) throw new Error(`wrong result ${first}`);
    return { a, result: { value: round(value, 1), unit: 'ms' } };
  },

  async timeout(create) {
    const ms = params.timeout ?? 200;
    const a = await create({ workers: 2, timeout: ms });
    if (!a.timeoutSupport) return { a, result: { value: 'n/a', unit: 'ms' } };
    return { a, result: await faultRun(a, 'timeout', ms) };
  },

  async kill(create) {
    const a = await create({ workers: 2 });
    return { a, result: await faultRun(a, 'kill') };
  },

  async backlog() {
    const n = params.n ?? 100_000;
    const batch = params.batch ?? 1000;
    const { Deadpool } = await import('../dist/index.js');
    const tasks = await import('./tasks.mjs');
    const pool = new Deadpool({ maxWorkers: 2, minWorkers: 2 });
    await pool.ready();
    const blockers = [pool.submit(tasks.sleep, [600_000]), pool.submit(tasks.sleep, [600_000])];
    for (const b of blockers) b.then(undefined, () => {});
    const t0 = now();
    while (!blockers.every((b) => b.running()) && now() - t0 < BOUND) await delay(1);
    // warm the submit path, then measure on a clean heap
    const warmups = Array.from({ length: 1000 }, (_, i) =>
      pool.submit(tasks.inc, [i], { priority: 9 }),
    );
    for (const f of warmups) f.cancel();
    globalThis.gc?.();
    globalThis.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const rss0 = process.memoryUsage().rss;
    const futures = new Array(n);
    const perSubmitUs = [];
    for (let start = 0; start < n; start += batch) {
      const t = process.hrtime.bigint();
      for (let i = start; i < start + batch; i++) {
        futures[i] = pool.submit(tasks.inc, [i], { priority: Math.floor(Math.random() * 10) });
      }
      perSubmitUs.push(Number(process.hrtime.bigint() - t) / 1000 / batch);
    }
    globalThis.gc?.();
    globalThis.gc?.();
    const heapPerTask = (process.memoryUsage().heapUsed - heap0) / n;
    const rssPerTask = (process.memoryUsage().rss - rss0) / n;
    // release the workers and time the drain of the 100k prioritized backlog
    const td = now();
    for (const b of blockers) b.cancelAndKill();
    await Promise.all(futures);
    const drainSeconds = (now() - td) / 1000;
    return {
      a: { close: () => pool.shutdown() },
      result: {
        value: round(median(perSubmitUs), 2),
        unit: 'µs/submit',
        p99_batch_us: round(quantile(perSubmitUs, 0.99), 2),
        heap_bytes_per_task: round(heapPerTask, 0),
        rss_bytes_per_task: round(rssPerTask, 0),
        drain_tasks_per_s: round(n / drainSeconds, 0),
        gc: typeof globalThis.gc === 'function',
        n,
      },
    };
  },

  async million() {
    const n = params.n ?? 1_000_000;
    const window = params.window ?? 10_000;
    const maxSeconds = params.maxSeconds ?? Infinity;
    const { Deadpool } = await import('../dist/index.js');
    const tasks = await import('./tasks.mjs');
    const pool = new Deadpool({ maxWorkers: 2, minWorkers: 2 });
    await pool.ready();
    const rss = { start: process.memoryUsage().rss };
    const marks = [now()];
    const t0 = marks[0];
    let completed = 0;
    for (let start = 0; start < n; start += window) {
      if ((now() - t0) / 1000 > maxSeconds) break; // time cap: report how far it got
      const futures = new Array(window);
      for (let i = 0; i < window; i++) futures[i] = pool.submit(tasks.inc, [start + i]);
      await Promise.all(futures);
      completed = start + window;
      if (completed % 100_000 === 0) marks.push(now());
      if (
        completed === n / 2 ||
        (rss.middle === undefined && (now() - t0) / 1000 > maxSeconds / 2)
      ) {
        rss.middle = process.memoryUsage().rss;
        rss.middleAt = completed;
      }
    }
    rss.end = process.memoryUsage().rss;
    const seconds = (now() - t0) / 1000;
    const rate = (i) => round(100_000 / ((marks[i + 1] - marks[i]) / 1000), 0);
    const mb = (b) => round(b / 2 ** 20, 1);
    return {
      a: { close: () => pool.shutdown() },
      result: {
        value: round(completed / seconds, 0),
        unit: 'tasks/s',
        completed,
        seconds: round(seconds, 1),
        first100k: rate(0),
        last100k: rate(marks.length - 2),
        rss_mb: { start: mb(rss.start), middle: mb(rss.middle), end: mb(rss.end) },
        rss_middle_at: rss.middleAt,
        stats: pool.getStatistics?.(),
      },
    };
  },
};

/**
 * Submits `forever` (writes its pid to a marker file, then loops), and either
 * lets the timeout fire or SIGKILLs the worker. Times, from the deadline or the
 * kill: the future settling, the old process gone, a new child appearing, the
 * pool announcing a new worker (where it can), and a fresh task completing.
 */
async function faultRun(a, mode, ms) {
  // Warm-up only; on a loaded machine a pool-wide call limit may cut some short.
  await Promise.allSettled(Array.from({ length: 20 }, (_, i) => a.call('inc', i)));
  const before = new Set(childrenOf(process.pid));
  const marker = join(tmpdir(), `bench-${process.pid}-${Date.now()}.pid`);
  let readyAt;
  a.onWorkerStart?.((pid) => {
    if (!before.has(pid) && readyAt === undefined) readyAt = now();
  });
  let settledAt;
  let outcome = 'never';
  const submitted = now();
  const p = a.call('forever', marker, mode === 'timeout' ? { timeout: ms } : {});
  Promise.resolve(p).then(
    () => {
      settledAt = now();
      outcome = 'resolved';
    },
    (error) => {
      settledAt = now();
      outcome = `rejected: ${String(error?.message ?? error).slice(0, 80)}`;
    },
  );
  while (!existsSync(marker) && now() - submitted < BOUND) await delay(1);
  const pid = Number(readFileSync(marker, 'utf8'));
  rmSync(marker, { force: true });
  let origin = submitted + ms;
  if (mode === 'kill') {
    origin = now();
    process.kill(pid, 'SIGKILL');
  }
  let goneAt;
  let spawnAt;
  let nextAt;
  let nextStarted = false;
  const startNext = () => {
    // A fresh task, submitted the moment the faulted one settles (or at the bound).
    nextStarted = true;
    Promise.resolve(a.call('inc', 1)).then(
      () => (nextAt = now()),
      () => (nextAt = 'failed'),
    );
  };
  while (now() - origin < BOUND) {
    if (goneAt === undefined && !isRunning(pid)) goneAt = now();
    if (spawnAt === undefined && childrenOf(process.pid).some((c) => !before.has(c)))
      spawnAt = now();
    if (!nextStarted && settledAt !== undefined) startNext();
    const announced = readyAt !== undefined || !a.onWorkerStart;
    if (
      settledAt !== undefined &&
      goneAt !== undefined &&
      spawnAt !== undefined &&
      announced &&
      nextAt !== undefined
    )
      break;
    await delay(1);
  }
  if (!nextStarted) startNext();
  const boundAt = now() + BOUND;
  while (nextAt === undefined && now() < boundAt) await delay(1);
  const next = nextAt;
  return {
    value: since(settledAt, origin),
    unit: 'ms',
    settle_ms: since(settledAt, origin),
    gone_ms: since(goneAt, origin),
    spawn_ms: since(spawnAt, origin),
    ready_ms: a.onWorkerStart ? since(readyAt, origin) : 'n/a',
    next_task_ms: typeof next === 'number' ? since(next, origin) : (next ?? 'never'),
    outcome,
    via: a.timeoutSupport,
  };
}

async function main() {
  const create = await loadAdapter(lib);
  const run = scenarios[scenario];
  if (!run) throw new Error(`unknown scenario ${scenario}`);
  const started = now();
  const { a, result } = await run(create);
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
  // Whatever the library left behind: our descendants, and anything carrying our tag.
  await delay(50);
  const leftover = new Set(descendantsOf(process.pid).filter(isRunning));
  if (process.env.BENCH_TAG)
    for (const p of processesWithEnv('BENCH_TAG', process.env.BENCH_TAG)) leftover.add(p);
  for (const p of leftover) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
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

main().catch((error) => {
  process.stdout.write(
    `BENCH_RESULT ${JSON.stringify({ lib, scenario, error: String(error?.stack ?? error) })}\n`,
  );
  process.exit(1);
});
