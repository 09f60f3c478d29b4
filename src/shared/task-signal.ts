import { SIGNAL_SLOT } from './protocol.js';

const never = new AbortController().signal;

/**
 * Inside a worker, the running task's `AbortSignal`: aborted with a
 * `TimeoutError` reason when the task's `softTimeout` passes. It is published
 * on a global symbol, so it works whichever copy of this package the task
 * module imported. Outside a task (in the parent, or between tasks) it returns
 * a signal that never aborts, so a defined task can still be called directly.
 */
export function taskSignal(): AbortSignal {
  const current = (globalThis as Record<symbol, unknown>)[SIGNAL_SLOT] as
    (() => AbortSignal) | undefined;
  return current?.() ?? never;
}
