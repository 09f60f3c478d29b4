/**
 * A histogram with fixed buckets, for the Prometheus metrics: one array of
 * counts per histogram, incremented in place when a task settles, cumulated
 * only when the metrics are read. The buckets are fixed and shared by every
 * histogram of the pool (see docs/observability.md, "Metrics").
 */

/**
 * Bucket upper bounds in seconds: 100 µs (an IPC round trip) to 5 minutes,
 * 1-2.5-5 steps up to 10 s, then 30 s, 1 min and 5 min. `+Inf` is implied.
 */
export const BUCKETS: readonly number[] = Object.freeze([
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  30, 60, 300,
]);

/** The bounds as a typed array, for the search on the hot path. */
const BOUNDS = Float64Array.from(BUCKETS);

export class Histogram {
  /** Observations per bucket, not cumulated; the last slot is above every bound (`+Inf`). */
  readonly #counts = new Float64Array(BUCKETS.length + 1);
  #sum = 0;
  #count = 0;

  /** Record `n` observations of `seconds` each. */
  observe(seconds: number, n = 1): void {
    let i = 0;
    while (i < BOUNDS.length && seconds > BOUNDS[i]!) i++;
    this.#counts[i]! += n;
    this.#sum += seconds * n;
    this.#count += n;
  }

  get sum(): number {
    return this.#sum;
  }

  get count(): number {
    return this.#count;
  }

  /** Cumulative counts, one per bound of BUCKETS and a last one for `+Inf` (equal to `count`). */
  cumulative(): number[] {
    const out: number[] = [];
    let total = 0;
    for (const c of this.#counts) out.push((total += c));
    return out;
  }
}
