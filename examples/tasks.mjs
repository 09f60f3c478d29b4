// A task module: each task is defined once and found by the worker by name.
import { createHash } from 'node:crypto';
import { defineTask, taskSignal } from 'deadpool/task';

/** CPU-bound work: hash a buffer `rounds` times. */
export const hash = defineTask(import.meta.url, 'hash', (text, rounds) => {
  let digest = Buffer.from(text);
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).digest();
  return digest.toString('hex').slice(0, 16);
});

/** A task that never ends by itself: only a timeout can stop it. */
export const spin = defineTask(import.meta.url, 'spin', () => {
  for (;;);
});

/** Sleeps, but gives up cleanly when its soft timeout aborts taskSignal(). */
export const nap = defineTask(import.meta.url, 'nap', async (ms, label) => {
  const signal = taskSignal();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), {
      once: true,
    });
  });
  return label;
});
