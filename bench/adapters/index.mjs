// Library name -> adapter factory. Every adapter's create() resolves to
// { call(fn, arg, { timeout }), close(), timeoutSupport, onWorkerStart? }.
const loaders = {
  raw: async () => (await import('./raw.mjs')).create,
  'raw-json': async () => {
    const { create } = await import('./raw.mjs');
    return (o) => create({ ...o, serialization: 'json' });
  },
  'raw-pipe64': async () => {
    const { create } = await import('./raw.mjs');
    return (o) => create({ ...o, inFlight: 32 });
  },
  deadpool: async () => (await import('./deadpool.mjs')).create,
  'deadpool-map': async () => (await import('./deadpool.mjs')).create,
  workerpool: async () => (await import('./workerpool.mjs')).create,
  tinypool: async () => (await import('./tinypool.mjs')).create,
  'jest-worker': async () => (await import('./jest-worker.mjs')).create,
  'worker-farm': async () => (await import('./worker-farm.mjs')).create,
  poolifier: async () => (await import('./poolifier.mjs')).create,
};

export const libraries = Object.keys(loaders);

export async function loadAdapter(lib) {
  const load = loaders[lib];
  if (!load) throw new Error(`unknown library ${lib}; known: ${libraries.join(', ')}`);
  return load();
}
