// Library name -> adapter factory. Every adapter's create() resolves to
// { call(fn, arg, { timeout, priority }), close(), timeoutSupport, onWorkerStart? }.
// Which rows are references and how the tables name them: ../lib/rows.mjs.
const raw = (options) => async () => {
  const { create } = await import('./raw.mjs');
  return (o) => create({ ...o, ...options });
};

const deadpool = (baseline) => async () => {
  // The baseline rows load another checkout's dist/; the env var is how the
  // adapter and bench/tasks.mjs (here and in the workers) find it.
  if (baseline !== Boolean(process.env.DEADPOOL_BENCH_BASELINE))
    throw new Error(
      baseline
        ? 'deadpool-baseline needs DEADPOOL_BENCH_BASELINE=<worktree> (run.mjs --baseline=<ref> sets it)'
        : 'DEADPOOL_BENCH_BASELINE is set: unset it to measure this checkout',
    );
  return (await import('./deadpool.mjs')).create;
};

const loaders = {
  raw: raw({}),
  'raw-json': raw({ serialization: 'json' }),
  'raw-pipelined': raw({ inFlight: 32 }),
  'raw-pipe64': raw({ inFlight: 32 }), // the old name of raw-pipelined
  'raw-ceiling': raw({ inFlight: 8 }),
  deadpool: deadpool(false),
  'deadpool-map': deadpool(false),
  // With DEADPOOL_CODE_CACHE=off (run.mjs sets it for this row).
  'deadpool-nocache': deadpool(false),
  'deadpool-baseline': deadpool(true),
  'deadpool-map-baseline': deadpool(true),
  workerpool: async () => (await import('./workerpool.mjs')).create,
  tinypool: async () => (await import('./tinypool.mjs')).create,
  'jest-worker': async () => (await import('./jest-worker.mjs')).create,
  'worker-farm': async () => (await import('./worker-farm.mjs')).create,
  poolifier: async () => (await import('./poolifier.mjs')).create,
  // BullMQ's sandboxed processor: the fault matrix only (needs its Redis).
  bullmq: async () => (await import('../faults/bullmq-adapter.mjs')).create,
};

export const libraries = Object.keys(loaders);

/** Imports the library's adapter (and so the library) and returns its create(). */
export async function loadAdapter(lib) {
  const load = loaders[lib];
  if (!load) throw new Error(`unknown library ${lib}; known: ${libraries.join(', ')}`);
  return load();
}
