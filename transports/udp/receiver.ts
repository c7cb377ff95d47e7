// The reliable receive side: buffers segments that arrive out of order within the receive window,
// delivers frames in sequence order, reassembles fragments, and keeps the state that ACK frames
// report back to the sender.
import { FrameTooLargeError, ProtocolError } from '../../src/errors.js';
import { FrameType, SegmentFlag, type AckFrame, type SegmentFrame, type SeqRange } from './frames.js';

/** ACK ranges sent at most; the lowest ones, because they describe the holes to repair first. */
export const MAX_ACK_RANGES = 32;
/** Packets per loss-measurement interval. */
const LOSS_INTERVAL_PACKETS = 64;

export type SegmentResult = 'accepted' | 'duplicate' | 'beyond-window';

export class ReliableReceiver {
  /** Next sequence number to deliver; every segment below it was received. */
  private cumulative = 0;
  private readonly outOfOrder = new Map<number, SegmentFrame>();
  private partial: { buffer: Buffer; filled: number } | null = null;
  private failure: Error | null = null;

  constructor(
    private readonly maxFrameSize: number,
    private readonly window: number,
    private readonly deliver: (frame: Uint8Array) => void,
  ) {}

  /** Sequence number of the next segment to deliver. */
  get deliveredUpTo(): number {
    return this.cumulative;
  }

  /** Whether segments wait behind a missing one. */
  get hasGap(): boolean {
    return this.outOfOrder.size > 0;
  }

  /** Whether a frame is partly reassembled or segments wait behind a hole (used by the reassembly timeout). */
  get holdsIncompleteData(): boolean {
    return this.partial !== null || this.outOfOrder.size > 0;
  }

  /**
   * Accepts one segment and delivers every frame it completes. Throws FrameTooLargeError when an
   * in-order frame declares a length above maxFrameSize, and ProtocolError for inconsistent
   * fragments. After either error the receiver stays failed, because the session must close.
   */
  onSegment(segment: SegmentFrame): SegmentResult {
    if (this.failure) throw this.failure;
    if (segment.seq < this.cumulative || this.outOfOrder.has(segment.seq)) return 'duplicate';
    // The receive window bounds the reassembly memory: window x fragment size per connection.
    if (segment.seq >= this.cumulative + this.window) return 'beyond-window';
    if (segment.seq > this.cumulative) {
      this.outOfOrder.set(segment.seq, segment);
      return 'accepted';
    }
    try {
      this.consume(segment);
      this.cumulative += 1;
      for (let next = this.outOfOrder.get(this.cumulative); next; next = this.outOfOrder.get(this.cumulative)) {
        this.outOfOrder.delete(this.cumulative);
        this.consume(next);
        this.cumulative += 1;
      }
    } catch (error) {
      this.failure = error as Error;
      this.outOfOrder.clear();
      this.partial = null;
      throw error;
    }
    return 'accepted';
  }

  private consume(segment: SegmentFrame): void {
    const start = (segment.flags & SegmentFlag.START) !== 0;
    const end = (segment.flags & SegmentFlag.END) !== 0;
    if (start) {
      if (this.partial) throw new ProtocolError(`udp segment ${segment.seq} starts a frame while another is incomplete`);
      // Checked on the first fragment, before anything of the frame is buffered.
      if (segment.totalLength > this.maxFrameSize) throw new FrameTooLargeError(segment.totalLength, this.maxFrameSize);
      if (end) {
        if (segment.payload.length !== segment.totalLength) throw new ProtocolError(`udp segment ${segment.seq} carries ${segment.payload.length} of ${segment.totalLength} bytes`);
        this.deliver(segment.payload);
        return;
      }
      this.partial = { buffer: Buffer.allocUnsafe(segment.totalLength), filled: 0 };
    } else if (!this.partial) {
      throw new ProtocolError(`udp segment ${segment.seq} continues a frame that never started`);
    }
    const partial = this.partial!;
    if (partial.filled + segment.payload.length > partial.buffer.length) {
      throw new ProtocolError(`udp fragments overflow the declared frame length of ${partial.buffer.length} bytes`);
    }
    partial.buffer.set(segment.payload, partial.filled);
    partial.filled += segment.payload.length;
    if (!end) return;
    if (partial.filled !== partial.buffer.length) throw new ProtocolError(`udp frame ended after ${partial.filled} of ${partial.buffer.length} bytes`);
    this.partial = null;
    this.deliver(partial.buffer);
  }

  /** Builds the cumulative and selective part of an ACK frame. */
  ackRanges(): { cumulative: number; ranges: SeqRange[] } {
    const ranges: SeqRange[] = [];
    if (this.outOfOrder.size > 0) {
      const held = [...this.outOfOrder.keys()].sort((a, b) => a - b);
      for (const seq of held) {
        const last = ranges[ranges.length - 1];
        if (last && last.end === seq) {
          last.end = seq + 1;
        } else {
          if (ranges.length === MAX_ACK_RANGES) break;
          ranges.push({ start: seq, end: seq + 1 });
        }
      }
    }
    return { cumulative: this.cumulative, ranges };
  }
}

/**
 * Packet-level receive state: the largest ack-eliciting packet number (echoed for RTT samples),
 * when an ACK is due, and the measured loss rate of the incoming path.
 */
export class AckTracker {
  largestPacket = -1;
  private largestReceivedAt = 0;
  private elicitingSinceAck = 0;
  /** Set when the next ACK should go out at once (a hole, a duplicate, or two packets waiting). */
  immediate = false;
  private intervalStart = -1;
  private intervalHighest = -1;
  private intervalCount = 0;
  private loss = 0;

  /** Whether an ACK frame should be sent (now or after the ACK delay). */
  get pending(): boolean {
    return this.elicitingSinceAck > 0 || this.immediate;
  }

  /** Loss rate of the incoming path (0..1), an exponentially weighted average over 64-packet intervals. */
  get lossRate(): number {
    return this.loss;
  }

  /** Records an authenticated packet. */
  onPacket(packetNumber: number, ackEliciting: boolean, now: number): void {
    this.measureLoss(packetNumber);
    if (!ackEliciting) return;
    if (packetNumber > this.largestPacket) {
      this.largestPacket = packetNumber;
      this.largestReceivedAt = now;
    }
    this.elicitingSinceAck += 1;
    // One ACK per two ack-eliciting packets, as TCP's delayed ACK (RFC 1122 section 4.2.3.2) and
    // RFC 9000 section 13.2.2 recommend.
    if (this.elicitingSinceAck >= 2) this.immediate = true;
  }

  /** Fills in the packet-level fields of an ACK and resets the pending state. */
  buildAck(now: number, ranges: { cumulative: number; ranges: SeqRange[] }): AckFrame {
    this.elicitingSinceAck = 0;
    this.immediate = false;
    const ackDelayMs = this.largestPacket < 0 ? 0 : Math.max(0, Math.round(now - this.largestReceivedAt));
    return {
      type: FrameType.ACK,
      largestPacket: this.largestPacket,
      ackDelayMs,
      lossPermille: Math.round(this.loss * 1000),
      cumulative: ranges.cumulative,
      ranges: ranges.ranges,
    };
  }

  private measureLoss(packetNumber: number): void {
    if (this.intervalStart < 0) {
      this.intervalStart = packetNumber;
      this.intervalHighest = packetNumber;
      this.intervalCount = 1;
      return;
    }
    this.intervalCount += 1;
    if (packetNumber > this.intervalHighest) this.intervalHighest = packetNumber;
    const span = this.intervalHighest - this.intervalStart + 1;
    if (span < LOSS_INTERVAL_PACKETS) return;
    const sample = Math.max(0, 1 - this.intervalCount / span);
    this.loss = 0.75 * this.loss + 0.25 * sample;
    this.intervalStart = -1;
  }
}
