// Steady-state scenarios: tiny-task throughput, payload throughput, sequential
// latency, CPU speed-up. Each gets an adapter factory and { lib, params } and
// returns { a (the open adapter, closed by scenario.mjs), result }.
import { median, now, quantile, round } from '../lib/stats.mjs';

async function warm(a, n = 200) {
  await Promise.all(Array.from({ length: n }, (_, i) => a.call('inc', i)));
}

const payloadLength = (r) => r?.length ?? r?.byteLength ?? r?.data?.length;

export async function tiny(create, { lib, params }) {
  const n = params.n ?? 20000;
  const a = await create({ workers: 2 });
  await warm(a);
  let sum = 0;
  const t = now();
  if (lib.startsWith('deadpool-map')) {
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
}

export async function payload(create, { params }) {
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
}

export async function latency(create, { params }) {
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
    result: {
      value: round(median(us), 1),
      unit: 'µs',
      p50: round(median(us), 1),
      p99: round(quantile(us, 0.99), 1),
      n,
    },
  };
}

export async function cpu(create, { params }) {
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
}
