// Load scenarios through the adapter, so the raw reference runs them too:
// a large backlog submitted while both workers are held (submit cost, parent
// memory per pending task, drain rate), and one million tiny tasks in windows.
import { rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, now, quantile, round } from '../lib/stats.mjs';
import { bounded, pollUntil } from '../lib/wait.mjs';

export async function backlog(create, { params }) {
  const n = params.n ?? 100_000;
  const batch = params.batch ?? 1000;
  const bound = params.bound ?? 5000;
  const a = await create({ workers: 2 });
  // warm the round trip, then hold both workers until the release file appears
  await Promise.all(Array.from({ length: 1000 }, (_, i) => a.call('inc', i)));
  const base = join(tmpdir(), `bench-${process.pid}-${Date.now()}`);
  const release = `${base}.release`;
  const markers = [`${base}.held0`, `${base}.held1`];
  let holds = [];
  try {
    holds = markers.map((marker) => a.call('hold', { marker, release }));
    if (!(await pollUntil(() => markers.every((m) => existsSync(m)), bound)))
      throw new Error('the two hold tasks did not both start');
    // warm the submit path while held (these 1,000 stay pending and drain too)
    const warmups = Array.from({ length: 1000 }, (_, i) => a.call('inc', i, { priority: 9 }));
    globalThis.gc?.();
    globalThis.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const rss0 = process.memoryUsage().rss;
    const pending = new Array(n);
    const perSubmitUs = [];
    for (let start = 0; start < n; start += batch) {
      const t = process.hrtime.bigint();
      for (let i = start; i < start + batch; i++) {
        pending[i] = a.call('inc', i, { priority: Math.floor(Math.random() * 10) });
      }
      perSubmitUs.push(Number(process.hrtime.bigint() - t) / 1000 / batch);
    }
    globalThis.gc?.();
    globalThis.gc?.();
    const heapPerTask = (process.memoryUsage().heapUsed - heap0) / n;
    const rssPerTask = (process.memoryUsage().rss - rss0) / n;
    // release the workers and time the drain of the prioritized backlog
    const td = now();
    writeFileSync(release, '');
    await Promise.all([...holds, ...warmups, ...pending]);
    const drainSeconds = (now() - td) / 1000;
    return {
      a,
      result: {
        value: round(median(perSubmitUs), 2),
        unit: 'µs/submit',
        p99_batch_us: round(quantile(perSubmitUs, 0.99), 2),
        heap_bytes_per_task: round(heapPerTask, 0),
        rss_bytes_per_task: round(rssPerTask, 0),
        drain_tasks_per_s: round((n + 1000) / drainSeconds, 0),
        gc: typeof globalThis.gc === 'function',
        n,
      },
    };
  } finally {
    // Let the held workers go, and wait for them before the files disappear.
    writeFileSync(release, '');
    await bounded(Promise.allSettled(holds), bound);
    for (const f of [release, ...markers]) rmSync(f, { force: true });
  }
}

export async function million(create, { params }) {
  const n = params.n ?? 1_000_000;
  const window = params.window ?? 10_000;
  const maxSeconds = params.maxSeconds ?? Infinity;
  const a = await create({ workers: 2 });
  const rss = { start: process.memoryUsage().rss };
  const marks = [now()];
  const t0 = marks[0];
  let completed = 0;
  for (let start = 0; start < n; start += window) {
    if ((now() - t0) / 1000 > maxSeconds) break; // time cap: report how far it got
    const futures = new Array(window);
    for (let i = 0; i < window; i++) futures[i] = a.call('inc', start + i);
    await Promise.all(futures);
    completed = start + window;
    if (completed % 100_000 === 0) marks.push(now());
    if (completed === n / 2 || (rss.middle === undefined && (now() - t0) / 1000 > maxSeconds / 2)) {
      rss.middle = process.memoryUsage().rss;
      rss.middleAt = completed;
    }
  }
  rss.end = process.memoryUsage().rss;
  const seconds = (now() - t0) / 1000;
  const rate = (i) =>
    i >= 0 && marks.length > i + 1 ? round(100_000 / ((marks[i + 1] - marks[i]) / 1000), 0) : 'n/a';
  const mb = (b) => round(b / 2 ** 20, 1);
  return {
    a,
    result: {
      value: round(completed / seconds, 0),
      unit: 'tasks/s',
      completed,
      seconds: round(seconds, 1),
      first100k: rate(0),
      last100k: rate(marks.length - 2),
      rss_mb: { start: mb(rss.start), middle: mb(rss.middle), end: mb(rss.end) },
      rss_middle_at: rss.middleAt,
      stats: a.pool?.getStatistics?.(),
    },
  };
}
