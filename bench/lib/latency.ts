// A log-bucketed latency histogram: each bucket is 1% wider than the one before, so any quantile is
// correct to within 0.5% from 1 µs to 100 s, with under 2,000 counters and no per-sample allocation.

const GROWTH = 1.01;
const MIN_MS = 0.001;
const MAX_MS = 100_000;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(MAX_MS / MIN_MS) / LOG_GROWTH) + 2;

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export class LatencyHistogram {
  private counts = new Float64Array(BUCKETS);
  private count = 0;
  private sumMs = 0;
  private maxMs = 0;

  record(ms: number): void {
    const value = ms > MIN_MS ? ms : MIN_MS;
    const index = Math.min(BUCKETS - 1, Math.floor(Math.log(value / MIN_MS) / LOG_GROWTH));
    this.counts[index]! += 1;
    this.count += 1;
    this.sumMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  /** Summarises the samples recorded so far and starts over. */
  takeSummary(): LatencySummary {
    const summary: LatencySummary = {
      count: this.count,
      meanMs: this.count === 0 ? 0 : this.sumMs / this.count,
      p50Ms: this.quantile(0.5),
      p90Ms: this.quantile(0.9),
      p99Ms: this.quantile(0.99),
      maxMs: this.maxMs,
    };
    this.counts.fill(0);
    this.count = 0;
    this.sumMs = 0;
    this.maxMs = 0;
    return summary;
  }

  private quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = q * this.count;
    let seen = 0;
    for (let index = 0; index < BUCKETS; index++) {
      seen += this.counts[index]!;
      // The bucket's geometric midpoint is within 0.5% of every value in it.
      if (seen >= rank) return Math.min(this.maxMs, MIN_MS * GROWTH ** (index + 0.5));
    }
    return this.maxMs;
  }
}
