// Client-side receive state: which sequence numbers arrived, for dedupe and for acks (cumulative
// plus selective, since a high-priority push may overtake normal ones).

/** Selective entries per ack frame; anything beyond waits for the cumulative point to move. */
const MAX_SELECTIVE = 256;

export class ReceiveTracker {
  private cumulativeSeq = 0;
  private readonly above = new Set<number>();

  get cumulative(): number {
    return this.cumulativeSeq;
  }

  /** Starts over at `base`: every seq up to it counts as received. */
  reset(base: number): void {
    this.cumulativeSeq = base;
    this.above.clear();
  }

  /** Marks seqs that will never arrive (a gap the gateway reported) as done. */
  skip(from: number, to: number): void {
    if (to <= this.cumulativeSeq) return;
    for (let seq = Math.max(from, this.cumulativeSeq + 1); seq <= to; seq++) this.above.add(seq);
    this.advance();
  }

  /** Records one arrival; false when the seq was already received (a duplicate). */
  accept(seq: number): boolean {
    if (seq <= this.cumulativeSeq || this.above.has(seq)) return false;
    this.above.add(seq);
    this.advance();
    return true;
  }

  ack(): { cumulative: number; selective: number[] } {
    const selective = [...this.above].sort((a, b) => a - b).slice(0, MAX_SELECTIVE);
    return { cumulative: this.cumulativeSeq, selective };
  }

  private advance(): void {
    while (this.above.delete(this.cumulativeSeq + 1)) this.cumulativeSeq += 1;
  }
}
