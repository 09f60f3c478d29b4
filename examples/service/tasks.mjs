// The service's real work, run in worker processes (or inline, for comparison).
// It imports 'deadpool/task', the light entry, so workers start sooner.
import { pbkdf2Sync } from 'node:crypto';
import { setImmediate as turn } from 'node:timers/promises';
import { defineTask, taskSignal } from 'deadpool/task';

/** PBKDF2 iterations: about 5 ms of one core here. A real password hash would use far more. */
export const HASH_ITERATIONS = 10_000;

/**
 * CPU-bound and synchronous: once started it cannot notice an abort. With
 * `abort: 'cooperative'` a client that leaves costs the rest of this hash,
 * not a SIGKILL and a new worker.
 */
export const hashPassword = defineTask(import.meta.url, 'hashPassword', (password, salt) =>
  pbkdf2Sync(password, salt, HASH_ITERATIONS, 32, 'sha512').toString('hex'),
);

const escape = (text) =>
  text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/**
 * A few ms of string work: an HTML report of `rows` rows. Cooperative: it
 * yields every 100 rows and stops there once taskSignal() is aborted (the
 * client went away), leaving the worker free for the next request.
 */
export const renderReport = defineTask(import.meta.url, 'renderReport', async (title, rows) => {
  const signal = taskSignal();
  const parts = [`<h1>${escape(title)}</h1><table>`];
  let total = 0;
  for (let i = 0; i < rows; i++) {
    if (i % 100 === 0 && i > 0) {
      await turn();
      signal.throwIfAborted();
    }
    const amount = ((i * 7919) % 10_007) / 100;
    total += amount;
    const name = escape(`item <${i.toString(36)}> "${title}"`);
    parts.push(`<tr><td>${i}</td><td>${name}</td><td>${amount.toFixed(2)}</td></tr>`);
  }
  parts.push(`<tr><th colspan="2">total</th><th>${total.toFixed(2)}</th></tr></table>`);
  return parts.join('\n');
});
