// Sequential latency as the JIT warms up: the latency row's loop (100 awaited
// warm-up calls, then calls awaited one at a time), continued for --blocks
// blocks of --calls calls, printing each block's p50 per library.
//   npm run build && node bench/warmup.mjs [--blocks=8] [--calls=2000] [--libs=raw,deadpool]
//   taskset -c 1 node bench/warmup.mjs   # one CPU for all the processes: CPU work only, no cross-CPU wake-ups
// Runs alone (not part of run.mjs): the latency row measures the first
// block; this shows what of its gap is code not yet optimized. V8 optimizes
// a function with Maglev after ~400 calls and with TurboFan after ~3,000
// (`node --v8-options`), so code that runs once per round trip is still in
// Maglev when the row's 2,000 calls end. Figures go to docs/performance.md
// with the command and the Node version.
import { loadAdapter } from './adapters/index.mjs';
import { median } from './lib/stats.mjs';

const arg = (name, fallback) => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found ? found.slice(name.length + 3) : fallback;
};
const BLOCKS = Number(arg('blocks', 8));
const CALLS = Number(arg('calls', 2000));
const LIBS = arg('libs', 'raw,deadpool').split(',');

for (const id of LIBS) {
  const create = await loadAdapter(id);
  const a = await create({ workers: 2 });
  try {
    for (let i = 0; i < 100; i++) await a.call('inc', i);
    const p50s = [];
    for (let block = 0; block < BLOCKS; block++) {
      const us = [];
      for (let i = 0; i < CALLS; i++) {
        const t = process.hrtime.bigint();
        await a.call('inc', i);
        us.push(Number(process.hrtime.bigint() - t) / 1000);
      }
      p50s.push(median(us).toFixed(1));
    }
    console.log(`${id.padEnd(12)} p50 µs per block of ${CALLS}: ${p50s.join(' ')}`);
  } finally {
    await a.close();
  }
}
