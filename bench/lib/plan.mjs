// Which scenarios run, with which libraries, parameters and repetitions.
// `raw` is in every comparative scenario: it is what "× raw" divides by.

const PEERS = ['workerpool', 'tinypool', 'jest-worker', 'worker-farm', 'poolifier'];

/**
 * @param {object} o
 * @param {number} o.iterations  spin iterations for ~50 ms (calibrated by run.mjs)
 * @param {boolean} o.quick      counts ÷10
 * @param {boolean} o.deadpool   this checkout's dist/ exists
 */
export function plan({ iterations, quick, deadpool }) {
  const scale = (n) => (quick ? Math.max(1, Math.round(n / 10)) : n);
  const dp = deadpool ? ['deadpool'] : [];
  return [
    {
      id: 'tiny',
      title: '1. Tiny-task throughput (20,000 × x+1, all submitted at once)',
      better: 'higher',
      libs: [
        'raw',
        'raw-json',
        'raw-pipelined',
        ...dp,
        ...(deadpool ? ['deadpool-map'] : []),
        ...PEERS,
      ],
      reps: 3,
      params: { n: scale(20_000) },
    },
    {
      id: 'payload-100k',
      scenario: 'payload',
      title: '2a. Payload throughput, 100 KB Buffer round trip (1,000 tasks)',
      better: 'higher',
      libs: ['raw', 'raw-json', 'raw-pipelined', 'raw-ceiling', ...dp, ...PEERS],
      reps: 3,
      params: { size: 100_000, count: scale(1000) },
      override: { 'raw-json': { count: scale(150) } },
    },
    {
      id: 'payload-10m',
      scenario: 'payload',
      title: '2b. Payload throughput, 10 MB Buffer round trip (10 tasks)',
      better: 'higher',
      libs: ['raw', 'raw-json', 'raw-pipelined', ...dp, ...PEERS],
      reps: 2,
      params: { size: 10_000_000, count: scale(10), bound: 20_000 },
      override: { 'raw-json': { count: 1 } },
    },
    {
      id: 'latency',
      title: '3. Sequential round-trip latency (2,000 awaited one at a time)',
      better: 'lower',
      libs: ['raw', 'raw-json', ...dp, ...PEERS],
      reps: 3,
      params: { n: scale(2000) },
    },
    {
      id: 'cpu',
      title: '4. CPU-bound speed-up, 1 → 2 workers (40 × ~50 ms busy loop)',
      better: 'higher',
      libs: ['raw', ...dp, ...PEERS],
      reps: 2,
      params: { iterations, tasks: scale(40) },
    },
    {
      id: 'cold',
      title: '5a. Cold start: import, then construct the pool and await one trivial task',
      better: 'lower',
      libs: ['raw', ...dp, ...(deadpool ? ['deadpool-nocache'] : []), ...PEERS],
      reps: 5,
      params: {},
    },
    {
      id: 'cold-breakdown',
      title: "5b. Where deadpool's cold start goes (ms after `new Deadpool()`, informational)",
      better: 'lower',
      informational: true,
      libs: dp,
      reps: 5,
      params: { bound: 2000 },
      env: { NODE_DEBUG: 'deadpool' },
    },
    {
      id: 'timeout',
      title:
        '6. 200 ms timeout on an endless loop (ms after the deadline until the worker is gone)',
      better: 'lower',
      libs: ['raw', ...dp, ...PEERS],
      reps: 3,
      params: { timeout: 200, bound: 2000 },
    },
    {
      id: 'kill',
      title: '7. External SIGKILL of a busy worker (ms after the kill)',
      better: 'lower',
      libs: ['raw', ...dp, ...PEERS],
      reps: 3,
      params: { bound: 2000 },
    },
    {
      id: 'shutdown',
      title: '8. Shutdown of an idle pool (ms after the call)',
      better: 'lower',
      libs: ['raw', ...dp, ...PEERS],
      reps: 3,
      params: { bound: 2000 },
    },
    {
      id: 'containment',
      title:
        '11. Containment: kernel (cgroup) vs process group, same run (ms from a 200 ms deadline to the whole cgroup empty)',
      better: 'lower',
      informational: true,
      libs: dp,
      reps: 3,
      params: { rounds: quick ? 2 : 5, bound: 5000 },
    },
    {
      id: 'backlog',
      title: '9. 100,000 submits with random priorities 0..9 while both workers are held',
      better: 'lower',
      libs: ['raw', ...dp],
      reps: 2,
      params: { n: scale(100_000) },
      execArgv: ['--expose-gc'],
    },
    {
      id: 'million',
      title: '10. One million tiny tasks through one pool (windows of 10,000)',
      better: 'higher',
      libs: ['raw', ...dp],
      reps: 1,
      params: { n: quick ? 200_000 : 1_000_000, maxSeconds: quick ? 30 : 120 },
      limitMs: 600_000,
    },
  ];
}

/**
 * Applies --libs (baseline rows follow the row they are the baseline of) and
 * --baseline (each deadpool row gets its baseline row right after it, so the
 * repetitions interleave like every other library's).
 */
export function librariesFor(scenario, { only, baseline }) {
  const out = [];
  for (const lib of scenario.libs) {
    if (only && !only.includes(lib)) continue;
    out.push(lib);
    if (baseline && lib.startsWith('deadpool') && lib !== 'deadpool-nocache') {
      out.push(`${lib}-baseline`);
    }
  }
  return out;
}
