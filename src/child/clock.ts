/**
 * Child side: milliseconds on a monotonic clock, for the durations the
 * worker measures (a task's run time, the time since the last usage
 * reading). Not `performance.now()`: the first use of the `performance`
 * global loads node:perf_hooks, ~0.6–1 ms of CPU that a worker's start
 * spent before its first task could begin (docs/performance.md).
 */
export function clock(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e3 + nanoseconds / 1e6;
}
