// Sequential latency as the JIT warms up: the latency row's loop (100 awaited
// warm-up calls, then calls awaited one at a time), continued for --blocks
// blocks of --calls calls, printing each block's p50 per library.
//   npm run build && node bench/warmup.mjs [--blocks=8] [--calls=2000] [--libs=raw,deadpool]
//   taskset -c 1 node bench/warmup.mjs   # one CPU for all the processes: CPU work only, no cross-CPU wake-ups
//   node bench/warmup.mjs --cpu          # also CPU per call and block: the pool process's threads, its workers
// Runs alone (not part of run.mjs): the latency row measures the first
// block; this shows what of its gap is code not yet optimized. V8 optimizes
// a function with Maglev after ~400 calls and with TurboFan after ~3,000
// (`node --v8-options`), so code that runs once per round trip is still in
// Maglev when the row's 2,000 calls end. Figures go to docs/performance.md
// with the command and the Node version.
// --cpu: the CPU time per call in each block, from /proc/*/task/*/schedstat:
// this process's main thread, its other threads (V8's helpers, which compile
// optimized code and collect garbage beside it), and its child processes (the
// workers). Linux only.
import { readdirSync, readFileSync } from 'node:fs';
import { loadAdapter } from './adapters/index.mjs';
import { median } from './lib/stats.mjs';

const arg = (name, fallback) => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found ? found.slice(name.length + 3) : fallback;
};
const BLOCKS = Number(arg('blocks', 8));
const CALLS = Number(arg('calls', 2000));
const LIBS = arg('libs', 'raw,deadpool').split(',');
const CPU = process.argv.includes('--cpu');

/** ns of CPU so far of `pid`: its main thread, and its other threads together. */
function threadsOf(pid) {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    if (Number(tid) === pid) main = ns;
    else others += ns;
  }
  return { main, others };
}

/** ns of CPU so far: this process's main thread, its other threads, and each child's (all its threads). */
function cpuNow() {
  const { main, others } = threadsOf(process.pid);
  const children = new Map();
  const listed = readFileSync(`/proc/self/task/${process.pid}/children`, 'utf8').trim();
  for (const pid of listed ? listed.split(' ').map(Number) : []) {
    try {
      const child = threadsOf(pid);
      children.set(pid, child.main + child.others);
    } catch {
      // gone meanwhile
    }
  }
  return { main, others, children };
}

/** Per call, µs: the main thread / other threads / children alive at both ends. */
function cpuPerCall(before, after) {
  let children = 0;
  for (const [pid, ns] of after.children) children += ns - (before.children.get(pid) ?? ns);
  const us = (ns) => (ns / CALLS / 1000).toFixed(1);
  return `${us(after.main - before.main)}/${us(after.others - before.others)}/${us(children)}`;
}

for (const id of LIBS) {
  const create = await loadAdapter(id);
  const a = await create({ workers: 2 });
  try {
    for (let i = 0; i < 100; i++) await a.call('inc', i);
    const p50s = [];
    const cpu = [];
    for (let block = 0; block < BLOCKS; block++) {
      const before = CPU ? cpuNow() : undefined;
      const us = [];
      for (let i = 0; i < CALLS; i++) {
        const t = process.hrtime.bigint();
        await a.call('inc', i);
        us.push(Number(process.hrtime.bigint() - t) / 1000);
      }
      p50s.push(median(us).toFixed(1));
      if (before) cpu.push(cpuPerCall(before, cpuNow()));
    }
    console.log(`${id.padEnd(12)} p50 µs per block of ${CALLS}: ${p50s.join(' ')}`);
    if (CPU)
      console.log(
        `${''.padEnd(12)} CPU µs per call, main thread/other threads/workers: ${cpu.join(' ')}`,
      );
  } finally {
    await a.close();
  }
}
