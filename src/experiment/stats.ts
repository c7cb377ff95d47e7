// Percentiles and summaries of measured samples (connect times, delivery latencies).
//
// Percentiles use the nearest-rank method: the p-th percentile of n sorted values is the value at
// rank ceil(p / 100 × n), so it is always one of the samples and never an interpolation.

export interface Summary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * Returns the nearest-rank percentile `p` (0 < p ≤ 100) of `sorted`, which must be in ascending
 * order. Returns null for an empty array. Throws RangeError for p outside (0, 100].
 */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? null;
}

/** Summarises `values` (any order); null when there are none. */
export function summarize(values: readonly number[]): Summary | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  let total = 0;
  for (const value of sorted) total += value;
  return {
    count: sorted.length,
    min: sorted[0]!,
    mean: total / sorted.length,
    p50: percentile(sorted, 50)!,
    p95: percentile(sorted, 95)!,
    p99: percentile(sorted, 99)!,
    max: sorted[sorted.length - 1]!,
  };
}
