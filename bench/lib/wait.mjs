// Bounded waiting for the scenarios: nothing a library does may hang a run.
import { setTimeout as delay } from 'node:timers/promises';
import { now } from './stats.mjs';

/** `promise`'s value, or '__bound__' when it took more than `ms`. */
export async function bounded(promise, ms) {
  let timer;
  const limit = new Promise((resolve) => {
    timer = setTimeout(() => resolve('__bound__'), ms);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` every 1 ms until it returns true or `ms` passed; returns its last answer. */
export async function pollUntil(check, ms) {
  const end = now() + ms;
  for (;;) {
    if (check()) return true;
    if (now() >= end) return false;
    await delay(1);
  }
}

/** Records when a promise settles: { at, ok, value, error }, filled in later. */
export function watch(promise) {
  const state = { at: undefined, ok: undefined, value: undefined, error: undefined };
  Promise.resolve(promise).then(
    (value) => Object.assign(state, { at: now(), ok: true, value }),
    (error) => Object.assign(state, { at: now(), ok: false, error }),
  );
  return state;
}
