// Writes deadpool's code cache (docs/api.md, "Code cache") the way a
// program's first run on a machine does, before the bench measures:
// run.mjs gives every run a fresh cache directory (DEADPOOL_CODE_CACHE) and
// runs this once first, for this checkout (and once more for the baseline
// rows, with DEADPOOL_BENCH_BASELINE set). It makes a pool of two, runs 100
// tiny tasks, stays idle a moment (a worker writes its file when idle after
// a task), and shuts down (the pool writes its file right after).
import { create } from './adapters/deadpool.mjs';

const a = await create({ workers: 2 });
await Promise.all(Array.from({ length: 100 }, (_, i) => a.call('inc', i)));
await new Promise((resolve) => setTimeout(resolve, 50));
await a.close();
