// Retransmission timeout estimator after RFC 6298, with lower bounds tuned for lossy mobile paths.
//
// Samples come from packet-number echoes in ACK frames (see frames.ts): every transmission gets a
// fresh packet number, so a sample is never ambiguous and Karn's rule (RFC 6298 section 3) is met
// without discarding samples of retransmitted data.

export interface RttOptions {
  initialRtoMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  /** Added to the RTO because the peer may hold an ACK back this long (as RFC 9002 section 6.2.1 does). */
  maxAckDelayMs: number;
}

/** Clock granularity G of RFC 6298 section 2, in milliseconds. */
const GRANULARITY_MS = 1;

export class RttEstimator {
  /** SRTT; undefined until the first sample. */
  private srtt: number | undefined;
  private rttvar = 0;
  private latest = 0;
  /** Binary exponential back-off multiplier of RFC 6298 section 5.5, reset by a fresh sample. */
  private backoff = 1;

  constructor(private readonly options: RttOptions) {}

  get smoothedRtt(): number | undefined {
    return this.srtt;
  }

  get latestRtt(): number {
    return this.latest;
  }

  /** Feeds one RTT measurement in milliseconds (RFC 6298 sections 2.2 and 2.3). */
  addSample(rttMs: number): void {
    const sample = Math.max(rttMs, GRANULARITY_MS);
    this.latest = sample;
    if (this.srtt === undefined) {
      this.srtt = sample;
      this.rttvar = sample / 2;
    } else {
      // RTTVAR first, with the old SRTT, as section 2.3 orders it (alpha 1/8, beta 1/4).
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - sample);
      this.srtt = 0.875 * this.srtt + 0.125 * sample;
    }
    this.backoff = 1;
  }

  /** The RTO without back-off: SRTT + max(G, 4 * RTTVAR) + max ACK delay, clamped to [min, max]. */
  get baseRto(): number {
    const { initialRtoMs, minRtoMs, maxRtoMs, maxAckDelayMs } = this.options;
    const raw = this.srtt === undefined ? initialRtoMs : this.srtt + Math.max(GRANULARITY_MS, 4 * this.rttvar) + maxAckDelayMs;
    return Math.min(Math.max(raw, minRtoMs), maxRtoMs);
  }

  /** The RTO to arm the retransmission timer with, back-off included, capped at maxRtoMs. */
  get rto(): number {
    return Math.min(this.baseRto * this.backoff, this.options.maxRtoMs);
  }

  /** Doubles the timeout after a retransmission timer expiry (RFC 6298 section 5.5). */
  backOff(): void {
    if (this.baseRto * this.backoff < this.options.maxRtoMs) this.backoff *= 2;
  }

  /** Time after which a packet sent before a later acknowledged one counts as lost (RFC 9002 section 6.1.2). */
  get lossDelay(): number {
    const base = Math.max(this.srtt ?? this.options.initialRtoMs, this.latest);
    return Math.max((9 / 8) * base, GRANULARITY_MS);
  }
}
