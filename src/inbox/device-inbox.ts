// The per-device inbox: every message for a device gets the next sequence number and stays here
// until the device acknowledges it, so a message survives outages and reconnects.
//
// NOTE: in memory only, so a process restart loses every inbox. A durable store (and the offline
// vendor path for devices without a live session) plugs in behind the same methods.
import type { Priority } from '../codec/proto.js';

export interface StoredMessage {
  seq: number;
  messageId: string;
  priority: Priority;
  payload: Uint8Array;
  publishedAtMs: number;
  /** Set once the message was written to some connection; a later send is a retransmission. */
  sent?: boolean;
}

export interface AppendResult {
  message: StoredMessage;
  /** True when this message id was already in the inbox; nothing new was stored. */
  duplicate: boolean;
  /** Messages dropped to make room (the inbox was at its limit). */
  dropped: number;
}

/** A range of sequence numbers that were dropped before the device acknowledged them. */
export interface SeqRange {
  from: number;
  to: number;
}

export class DeviceInbox {
  private nextSeq = 1;
  /** Unacked messages in sequence order (Map keeps insertion order, and seqs only grow). */
  private readonly unacked = new Map<number, StoredMessage>();
  /** Caller-chosen message id → seq for dedupe; kept for retained messages and a bounded tail of acked ones. */
  private readonly idToSeq = new Map<string, number>();
  /** The same ids in arrival order, as a ring, so forgetting the oldest costs O(1). */
  private readonly idRing: (string | undefined)[] = [];
  private idRingHead = 0;
  private droppedThrough = 0;
  private ackedThrough = 0;

  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`inbox limit must be at least 1, got ${limit}`);
  }

  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  get pendingCount(): number {
    return this.unacked.size;
  }

  /**
   * Stores a message under the next seq. `idempotent` marks a caller-chosen id: only those are
   * remembered for dedupe, since a generated id can never be published twice.
   */
  append(messageId: string, priority: Priority, payload: Uint8Array, publishedAtMs: number, idempotent = true): AppendResult {
    const existingSeq = idempotent ? this.idToSeq.get(messageId) : undefined;
    if (existingSeq !== undefined) {
      const existing = this.unacked.get(existingSeq) ?? { seq: existingSeq, messageId, priority, payload, publishedAtMs };
      return { message: existing, duplicate: true, dropped: 0 };
    }
    const message: StoredMessage = { seq: this.nextSeq++, messageId, priority, payload, publishedAtMs };
    this.unacked.set(message.seq, message);
    if (idempotent) this.rememberId(messageId, message.seq);
    let dropped = 0;
    while (this.unacked.size > this.limit) {
      const oldest = this.unacked.keys().next().value as number;
      this.unacked.delete(oldest);
      this.droppedThrough = Math.max(this.droppedThrough, oldest);
      dropped += 1;
    }
    return { message, duplicate: false, dropped };
  }

  /** Applies a cumulative + selective ack; returns the messages it acknowledged for the first time. */
  ack(cumulative: number, selective: readonly number[] = []): StoredMessage[] {
    const acked: StoredMessage[] = [];
    if (cumulative > this.ackedThrough) {
      for (const [seq, message] of this.unacked) {
        if (seq > cumulative) break;
        this.unacked.delete(seq);
        acked.push(message);
      }
      this.ackedThrough = Math.min(cumulative, this.lastSeq);
    }
    for (const seq of selective) {
      const message = this.unacked.get(seq);
      if (message) {
        this.unacked.delete(seq);
        acked.push(message);
      }
    }
    return acked;
  }

  isPending(seq: number): boolean {
    return this.unacked.has(seq);
  }

  /** Highest seq such that it and every lower one is acknowledged or dropped. */
  get base(): number {
    const first = this.unacked.keys().next();
    return first.done ? this.lastSeq : (first.value as number) - 1;
  }

  /** Unacked messages with seq > afterSeq, in sequence order. */
  pendingAfter(afterSeq: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    for (const [seq, message] of this.unacked) if (seq > afterSeq) out.push(message);
    return out;
  }

  /**
   * The messages a device holding everything up to `lastSeq` can no longer get, because they were
   * dropped unacked; null when the inbox can fill the gap completely.
   */
  missingAfter(lastSeq: number): SeqRange | null {
    if (this.droppedThrough <= lastSeq) return null;
    return { from: lastSeq + 1, to: this.droppedThrough };
  }

  private rememberId(messageId: string, seq: number): void {
    // Dedupe covers every retained message plus as many already-acked ones again.
    const capacity = this.limit * 2;
    if (this.idRing.length < capacity) {
      this.idRing.push(messageId);
    } else {
      const oldest = this.idRing[this.idRingHead];
      if (oldest !== undefined && this.idToSeq.get(oldest) !== undefined) this.idToSeq.delete(oldest);
      this.idRing[this.idRingHead] = messageId;
      this.idRingHead = (this.idRingHead + 1) % capacity;
    }
    this.idToSeq.set(messageId, seq);
  }
}
