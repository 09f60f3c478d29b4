// Tasks that break the process running them, as bugs in real task code do.
// The service exposes them only with SERVICE_FAULTS=1, for the load test
// (bench/service/run.mjs): each one may take down its worker, never the service.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { defineTask } from 'deadpool/task';

const MiB = 1024 * 1024;
/** What `leak` keeps for the life of the worker. */
const leaked = [];

export const poison = defineTask(import.meta.url, 'poison', async (kind) => {
  switch (kind) {
    // An endless synchronous loop: only the pool's timeout (kept by the parent) ends it.
    case 'loop':
      for (;;);
    // Code that calls process.exit() inside a request.
    case 'exit':
      console.error('poison: calling process.exit(3)');
      return process.exit(3);
    // A runaway allocation in a synchronous loop, touched so that it is resident:
    // memoryLimitBytes (sampled by the parent) kills it long before the 2 GiB
    // where it would stop. On a slow machine the timeout may come first.
    case 'runaway': {
      const chunks = [];
      while (chunks.length < 256) chunks.push(Buffer.alloc(8 * MiB, 1));
      for (;;);
    }
    // A leak: 32 MiB kept after the task returns. maxWorkerMemoryBytes retires
    // the worker after a few of them (exit reason 'memory'); the request succeeds.
    case 'leak':
      leaked.push(Buffer.alloc(32 * MiB, 1));
      console.log(`poison: leaked ${leaked.length * 32} MiB so far`);
      return `leaked ${leaked.length * 32} MiB`;
    // A task that starts child processes and then exits: the worker takes its
    // children with it (docs/guarantees.md), so no `sleep` outlives it.
    case 'spawn': {
      for (let i = 0; i < 2; i++) {
        const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
        await once(child, 'spawn');
      }
      return process.exit(4);
    }
    default:
      throw new RangeError(`unknown poison ${kind}`);
  }
});

export const POISONS = ['loop', 'exit', 'runaway', 'leak', 'spawn'];
