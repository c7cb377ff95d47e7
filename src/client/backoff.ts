// Reconnect delays: capped exponential back-off with full jitter (a uniformly random delay between
// 0 and the capped exponential bound), which spreads a crowd of clients that lost the same gateway.
import type { Random } from '../random.js';

export interface BackoffOptions {
  /** Upper bound of the first delay, in ms. */
  initialMs: number;
  /** Cap on the upper bound, in ms. */
  maxMs: number;
  /** Growth of the bound per failed attempt. */
  multiplier: number;
}

export const BACKOFF_DEFAULTS: BackoffOptions = { initialMs: 500, maxMs: 30_000, multiplier: 2 };

export class Backoff {
  private failures = 0;

  constructor(
    private readonly options: BackoffOptions,
    private readonly random: Random,
  ) {}

  /** The bound for the next delay, before jitter. */
  get ceilingMs(): number {
    return Math.min(this.options.maxMs, this.options.initialMs * this.options.multiplier ** this.failures);
  }

  /** Returns the delay before the next attempt and counts one more failure. */
  next(): number {
    const delay = Math.floor(this.random() * this.ceilingMs);
    this.failures += 1;
    return delay;
  }

  reset(): void {
    this.failures = 0;
  }
}
