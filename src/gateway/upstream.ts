// Exactly-once application of client publishes within a session. The client numbers its publishes
// and retries them until acked. The ledger applies each number once, in order, and replies to a
// retry with the original ack.
import type { Priority, PublishAck } from '../codec/proto.js';

export interface UpstreamEvent {
  userId: string;
  deviceId: string;
  sessionId: string;
  clientSeq: number;
  toUserId: string;
  payload: Uint8Array;
  priority: Priority;
}

/** Applies one client publish; the returned message id (if any) goes back in the ack. */
export type UpstreamHandler = (event: UpstreamEvent) => Promise<{ messageId?: string } | void> | { messageId?: string } | void;

export type LedgerVerdict<T> =
  | { kind: 'apply'; due: T[] }
  /** `pending` is true while the original is held or being applied, so its ack is still to come. */
  | { kind: 'duplicate'; ack: PublishAck | null; pending: boolean }
  | { kind: 'held' }
  | { kind: 'overflow' };

/** How many acks are kept for replies to retries, and how many early publishes may wait for a gap. */
const ACK_MEMORY = 4096;
const MAX_HELD = 1024;

export class UpstreamLedger<T> {
  appliedThrough = 0;
  private readonly acks = new Map<number, PublishAck>();
  private readonly held = new Map<number, T>();
  /** Applied publishes whose handler has not finished yet; their ack is still to come. */
  private readonly applying = new Set<number>();

  /**
   * Classifies an arriving publish. `apply` lists the publishes that are now due, in order: this
   * one and any held ones it unblocked.
   */
  receive(clientSeq: number, item: T): LedgerVerdict<T> {
    if (clientSeq <= this.appliedThrough) {
      return { kind: 'duplicate', ack: this.acks.get(clientSeq) ?? null, pending: this.applying.has(clientSeq) };
    }
    if (clientSeq !== this.appliedThrough + 1) {
      if (this.held.has(clientSeq)) return { kind: 'duplicate', ack: null, pending: true };
      if (this.held.size >= MAX_HELD) return { kind: 'overflow' };
      this.held.set(clientSeq, item);
      return { kind: 'held' };
    }
    const due = [item];
    this.appliedThrough = clientSeq;
    this.applying.add(clientSeq);
    for (let next = this.held.get(clientSeq + 1); next !== undefined; next = this.held.get(this.appliedThrough + 1)) {
      this.held.delete(this.appliedThrough + 1);
      this.appliedThrough += 1;
      this.applying.add(this.appliedThrough);
      due.push(next);
    }
    return { kind: 'apply', due };
  }

  /**
   * Forgets publishes held for an earlier number. They came over a connection that is gone, and
   * the client sends every unacked publish again (possibly renumbered) on the next one.
   */
  dropHeld(): void {
    this.held.clear();
  }

  recordAck(ack: PublishAck): void {
    this.applying.delete(Number(ack.clientSeq));
    this.acks.set(Number(ack.clientSeq), ack);
    if (this.acks.size > ACK_MEMORY) this.acks.delete(this.acks.keys().next().value as number);
  }
}
