// Small statistics helpers.

/** The q-quantile (0..1) of numbers, by nearest rank on a sorted copy. */
export function quantile(values, q) {
  const xs = values
    .filter((v) => typeof v === 'number' && Number.isFinite(v))
    .sort((a, b) => a - b);
  if (xs.length === 0) return undefined;
  const index = Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1));
  return xs[index];
}

export const median = (values) => {
  const xs = values
    .filter((v) => typeof v === 'number' && Number.isFinite(v))
    .sort((a, b) => a - b);
  if (xs.length === 0) return undefined;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
};

export const min = (values) => {
  const xs = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  return xs.length ? Math.min(...xs) : undefined;
};

export const max = (values) => {
  const xs = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  return xs.length ? Math.max(...xs) : undefined;
};

/** Milliseconds since an arbitrary origin, with sub-ms resolution. */
export const now = () => performance.now();

/** Rounds numbers to `digits` decimals; anything else passes through. */
export const round = (x, digits = 2) => (typeof x === 'number' ? Number(x.toFixed(digits)) : x);

/** ms from `origin` to `t`, or 'never' when `t` never happened. */
export const since = (t, origin) => (t === undefined ? 'never' : round(t - origin, 1));
