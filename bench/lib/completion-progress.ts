// The experiment runner's progress reporter, extended to time each cell's completion: from the
// start of its publish phase to the last time its count of delivered messages rose. The runner
// hands every cell's live counters to begin() and announces each phase through setPhase(), so
// polling those counters needs no change to the runner.
import { ProgressReporter, type ProgressCounters, type ProgressStream } from '../../src/experiment/progress.js';

/** Delivery-count polling interval; the completion time is exact to within this. */
const POLL_MS = 10;

export class CompletionProgress extends ProgressReporter {
  /** Completion time of each finished cell in ms, keyed by the runner's label ("tcp × loss-30"). */
  readonly completionMs = new Map<string, number>();
  private cellLabel = '';
  private poll: NodeJS.Timeout | null = null;
  private publishStartedAt: number | null = null;
  private lastDeliveryAt: number | null = null;

  constructor(stream: ProgressStream) {
    super(stream);
  }

  override begin(label: string, counters: () => ProgressCounters): void {
    super.begin(label, counters);
    this.cellLabel = label;
    this.publishStartedAt = null;
    this.lastDeliveryAt = null;
    let delivered = 0;
    this.poll = setInterval(() => {
      const now = counters().delivered;
      if (now > delivered) {
        delivered = now;
        this.lastDeliveryAt = Date.now();
      }
    }, POLL_MS);
    this.poll.unref();
  }

  override setPhase(phase: string): void {
    super.setPhase(phase);
    if (phase === 'publish') this.publishStartedAt = Date.now();
  }

  override end(): void {
    if (this.poll !== null) clearInterval(this.poll);
    this.poll = null;
    if (this.publishStartedAt !== null && this.lastDeliveryAt !== null) this.completionMs.set(this.cellLabel, this.lastDeliveryAt - this.publishStartedAt);
    super.end();
  }
}
