import { PROGRESS_SLOT } from './protocol.js';

/**
 * Inside a task, send `value` (any value structured clone can copy) to the
 * caller: it reaches `submit(..., { onProgress })` and the future's progress
 * callbacks, in order, before the future settles. When the task reports far
 * faster than the pool can take the values, intermediate ones may be
 * coalesced; the latest value before the task ends always arrives. Outside a
 * running task (in the parent, or between tasks) it does nothing. It works
 * whichever copy of this package the task module imported.
 */
export function reportProgress(value: unknown): void {
  const report = (globalThis as Record<symbol, unknown>)[PROGRESS_SLOT] as
    ((value: unknown) => void) | undefined;
  report?.(value);
}
