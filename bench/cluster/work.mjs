// The jobs of the cluster benchmark, shared by deadpool's tasks (tasks.mjs)
// and BullMQ's sandboxed processor (processor.mjs), so both run the same code.
import { setTimeout as delay } from 'node:timers/promises';

/** `tiny`: n + 1 (overhead only). `cpu`: spins `n` ms. `hold`: sleeps `n` ms. */
export async function work(kind, n) {
  if (kind === 'tiny') return n + 1;
  if (kind === 'cpu') {
    const end = performance.now() + n;
    while (performance.now() < end) {
      // spin
    }
    return n;
  }
  if (kind === 'hold') {
    await delay(n);
    return n;
  }
  throw new TypeError(`unknown kind ${kind}`);
}
