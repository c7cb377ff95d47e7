// Client publishes (device → gateway) with at-least-once sending and exactly-once application:
// each publish keeps its client sequence number across retries and reconnects, and the gateway's
// ledger applies each number once. Retries go out in sequence order, so order is kept too.
import type { Clock, TimerHandle } from '../clock.js';
import { encodeFrame } from '../codec/frame-codec.js';
import { Priority, type PublishAck } from '../codec/proto.js';
import { MessageTooLargeError, PushlabError } from '../errors.js';

export interface PublishOptions {
  /** Recipient user, relayed by the gateway unless its upstream handler decides otherwise. */
  toUserId?: string;
  priority?: 'normal' | 'high';
}

export interface PublishReceipt {
  clientSeq: number;
  messageId: string;
  /** True when the gateway had applied this publish before and repeated its ack. */
  duplicate: boolean;
}

interface PendingPublish {
  clientSeq: number;
  toUserId: string;
  payload: Uint8Array;
  priority: Priority;
  lastSentAt: number;
  sends: number;
  resolve(receipt: PublishReceipt): void;
  reject(error: Error): void;
}

export class UpstreamPublisher {
  private nextSeq = 1;
  private readonly pending = new Map<number, PendingPublish>();
  private timer: TimerHandle | null = null;
  private sendFrame: ((frame: Uint8Array) => void) | null = null;
  /** Publishes sent again because no ack came within the retry interval. */
  retries = 0;

  constructor(
    private readonly clock: Clock,
    private readonly retryMs: number,
    private readonly maxFrameSize: number,
  ) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  publish(payload: Uint8Array, options: PublishOptions = {}): Promise<PublishReceipt> {
    return new Promise((resolve, reject) => {
      const entry: PendingPublish = {
        clientSeq: this.nextSeq++,
        toUserId: options.toUserId ?? '',
        payload,
        priority: options.priority === 'high' ? Priority.PRIORITY_HIGH : Priority.PRIORITY_NORMAL,
        lastSentAt: 0,
        sends: 0,
        resolve,
        reject,
      };
      const size = this.encode(entry).length;
      if (size > this.maxFrameSize) {
        this.nextSeq -= 1;
        reject(new MessageTooLargeError(size, this.maxFrameSize));
        return;
      }
      this.pending.set(entry.clientSeq, entry);
      if (this.sendFrame) this.send(entry);
      this.arm();
    });
  }

  /**
   * A session is up. On a new logical session the gateway's numbering restarts, so unacked
   * publishes are renumbered from 1 in their original order; a resumed session keeps the numbers.
   */
  attach(sendFrame: (frame: Uint8Array) => void, resumed: boolean): void {
    this.sendFrame = sendFrame;
    if (!resumed) this.renumber();
    for (const entry of this.pending.values()) this.send(entry);
    this.arm();
  }

  detach(): void {
    this.sendFrame = null;
    this.timer?.cancel();
    this.timer = null;
  }

  onAck(ack: PublishAck): void {
    const entry = this.pending.get(Number(ack.clientSeq));
    if (!entry) return;
    this.pending.delete(entry.clientSeq);
    entry.resolve({ clientSeq: entry.clientSeq, messageId: ack.messageId ?? '', duplicate: ack.duplicate === true });
  }

  /**
   * Rejects the pending publishes whose frame exceeds `limit` bytes; returns how many. The gateway
   * never applied them, so the publishes after them move down to close the hole in the numbering
   * (the gateway would otherwise wait for the missing number forever).
   */
  rejectOversized(limit: number): number {
    const entries = [...this.pending.values()];
    const rejected = entries.filter((entry) => this.encode(entry).length > limit);
    if (rejected.length === 0) return 0;
    const firstRejected = rejected[0]!.clientSeq;
    for (const entry of rejected) entry.reject(new MessageTooLargeError(this.encode(entry).length, limit));
    this.pending.clear();
    this.nextSeq = firstRejected;
    for (const entry of entries) {
      if (rejected.includes(entry)) continue;
      if (entry.clientSeq > firstRejected) entry.clientSeq = this.nextSeq++;
      else this.nextSeq = Math.max(this.nextSeq, entry.clientSeq + 1);
      this.pending.set(entry.clientSeq, entry);
    }
    return rejected.length;
  }

  rejectAll(error: PushlabError): void {
    for (const entry of this.pending.values()) entry.reject(error);
    this.pending.clear();
    this.detach();
  }

  private renumber(): void {
    const entries = [...this.pending.values()];
    this.pending.clear();
    this.nextSeq = 1;
    for (const entry of entries) {
      entry.clientSeq = this.nextSeq++;
      this.pending.set(entry.clientSeq, entry);
    }
  }

  private encode(entry: PendingPublish): Uint8Array {
    return encodeFrame({ publish: { clientSeq: entry.clientSeq, toUserId: entry.toUserId, payload: entry.payload, priority: entry.priority } });
  }

  private send(entry: PendingPublish): void {
    if (!this.sendFrame) return;
    entry.lastSentAt = this.clock.now();
    entry.sends += 1;
    this.sendFrame(this.encode(entry));
  }

  private arm(): void {
    if (this.timer || !this.sendFrame || this.pending.size === 0) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.retryDue();
    }, this.retryMs);
  }

  private retryDue(): void {
    const now = this.clock.now();
    for (const entry of this.pending.values()) {
      if (now - entry.lastSentAt < this.retryMs) continue;
      this.retries += 1;
      this.send(entry);
    }
    this.arm();
  }
}
