// Accounting of one run: which message went to which device, and what each device's application
// received. Message ids are unique within a run, so a message is identified by its id alone.
//
// A push can reach a device before the HTTP response of its publish reaches the workload, so
// receipts of ids not (yet) confirmed are kept, and matched when the confirmation arrives.

import type { DeliveredMessage } from './stalls.js';

interface Receipt {
  device: number;
  count: number;
}

export interface DeliveryCounts {
  /** Publishes the gateway accepted (HTTP 200). */
  published: number;
  /** Accepted messages that reached the application of their device at least once. */
  delivered: number;
  /** Accepted messages that never reached their device's application. */
  lost: number;
  /** Extra deliveries to the application: receipts of an id beyond its first. */
  duplicated: number;
  /** Receipts of ids that were never accepted for that device (misrouted, or from a failed publish). */
  unexpected: number;
  /** Publishes the gateway did not accept (HTTP error or network failure). */
  publishFailed: number;
}

export class DeliveryLedger {
  private readonly published = new Map<string, number>();
  private readonly receipts = new Map<string, Receipt>();
  private readonly firstReceipts: DeliveredMessage[] = [];
  private deliveredCount = 0;
  private duplicateCount = 0;
  private failedCount = 0;

  /** Records a publish the gateway accepted for `device`. */
  confirm(device: number, messageId: string): void {
    if (this.published.has(messageId)) return;
    this.published.set(messageId, device);
    const receipt = this.receipts.get(messageId);
    if (receipt !== undefined && receipt.device === device) this.deliveredCount += 1;
  }

  /** Records a publish the gateway did not accept. */
  fail(): void {
    this.failedCount += 1;
  }

  /**
   * Records that `device`'s application received `messageId`, published by the gateway at
   * `publishedAtMs` and received `latencyMs` later. Only the first receipt counts for latency.
   */
  receive(device: number, messageId: string, publishedAtMs: number, latencyMs: number): void {
    const receipt = this.receipts.get(messageId);
    if (receipt !== undefined) {
      receipt.count += 1;
      this.duplicateCount += 1;
      return;
    }
    this.receipts.set(messageId, { device, count: 1 });
    this.firstReceipts.push({ device, publishedAtMs, latencyMs });
    if (this.published.get(messageId) === device) this.deliveredCount += 1;
  }

  get publishedCount(): number {
    return this.published.size;
  }

  get delivered(): number {
    return this.deliveredCount;
  }

  /** Accepted messages not delivered yet. */
  get undelivered(): number {
    return this.published.size - this.deliveredCount;
  }

  /** Delivery latencies (ms) of first receipts, in arrival order; only messages published before `beforeMs` when given. */
  latenciesMs(beforeMs = Infinity): number[] {
    return this.firstReceipts.filter((receipt) => receipt.publishedAtMs < beforeMs).map((receipt) => receipt.latencyMs);
  }

  /** First receipts of every message, in arrival order. */
  deliveredMessages(): readonly DeliveredMessage[] {
    return this.firstReceipts;
  }

  counts(): DeliveryCounts {
    let unexpected = 0;
    for (const [messageId, receipt] of this.receipts) {
      if (this.published.get(messageId) !== receipt.device) unexpected += 1;
    }
    return {
      published: this.published.size,
      delivered: this.deliveredCount,
      lost: this.published.size - this.deliveredCount,
      duplicated: this.duplicateCount,
      unexpected,
      publishFailed: this.failedCount,
    };
  }
}
