// The reliable send side: splits frames into numbered segments, keeps a bounded window of them in
// flight, and decides which to retransmit from ACK frames and from the retransmission timer.
//
// Loss detection follows RFC 9002 section 6.1, adapted to segments. A segment counts as lost when
// a packet sent at least PACKET_THRESHOLD packets after its last transmission was acknowledged.
// It also counts as lost when such a later packet was acknowledged and lossDelay has passed since
// the segment was sent. That is fast retransmit on selective-ACK holes, without waiting for the
// timer. The timer (RFC 6298 section 5) covers tail loss and lost ACKs.
import type { AckFrame } from './frames.js';
import { SegmentFlag } from './frames.js';
import { MAX_ACK_RANGES } from './receiver.js';
import { RttEstimator, type RttOptions } from './rtt.js';

/** RFC 9002 section 6.1.1 kPacketThreshold: tolerates this much reordering before declaring loss. */
const PACKET_THRESHOLD = 3;
/** Send times kept for RTT sampling; older entries are dropped first. */
const MAX_TRACKED_PACKETS = 4096;

export interface Segment {
  seq: number;
  flags: number;
  totalLength: number;
  payload: Uint8Array;
  /** Packet number of the latest transmission, -1 before the first. */
  lastSentPn: number;
  lastSentAt: number;
  firstSentAt: number;
  transmissions: number;
  /** Declared lost and waiting for retransmission. */
  lost: boolean;
}

export interface AckOutcome {
  /** Segments acknowledged for the first time by this ACK. */
  newlyAcked: number;
  /** Segments newly declared lost (now queued for retransmission). */
  newlyLost: number;
}

export class ReliableSender {
  readonly rtt: RttEstimator;
  private nextSeq = 0;
  /** Segments not sent yet, in order; `queueHead` is the index of the first one. */
  private queue: Segment[] = [];
  private queueHead = 0;
  /** Sent, unacknowledged segments by sequence number; insertion order is sequence order. */
  private readonly inFlight = new Map<number, Segment>();
  private readonly retransmitQueue: Segment[] = [];
  private readonly sentTimes = new Map<number, number>();
  private largestAckedPn = -1;
  private bytes = 0;
  private window: number;

  constructor(
    rttOptions: RttOptions,
    private readonly localWindow: number,
    private readonly fragmentSize: number,
  ) {
    this.rtt = new RttEstimator(rttOptions);
    this.window = localWindow;
  }

  /** Payload bytes accepted and not yet acknowledged (queued plus in flight). */
  get bufferedBytes(): number {
    return this.bytes;
  }

  /** Whether every accepted segment was acknowledged. */
  get idle(): boolean {
    return this.bytes === 0 && this.queueHead === this.queue.length && this.inFlight.size === 0;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Caps the window at the receive window the peer announced in the handshake. */
  setPeerWindow(peerWindow: number): void {
    this.window = Math.max(1, Math.min(this.localWindow, peerWindow));
  }

  /** Splits one frame into segments; the copy decouples them from the caller's buffer. */
  enqueue(frame: Uint8Array): void {
    const body = Buffer.from(frame);
    const total = body.length;
    let offset = 0;
    do {
      const end = Math.min(offset + this.fragmentSize, total);
      let flags = 0;
      if (offset === 0) flags |= SegmentFlag.START;
      if (end === total) flags |= SegmentFlag.END;
      this.queue.push({
        seq: this.nextSeq++,
        flags,
        totalLength: total,
        payload: body.subarray(offset, end),
        lastSentPn: -1,
        lastSentAt: 0,
        firstSentAt: 0,
        transmissions: 0,
        lost: false,
      });
      offset = end;
    } while (offset < total);
    this.bytes += total;
  }

  /** Returns the next segment to transmit: a lost one first, else a new one if the window allows. */
  peekNext(): Segment | undefined {
    while (this.retransmitQueue.length > 0) {
      const segment = this.retransmitQueue[0]!;
      if (segment.lost && this.inFlight.has(segment.seq)) return segment;
      this.retransmitQueue.shift();
    }
    const next = this.queue[this.queueHead];
    if (!next) return undefined;
    // The peer accepts sequence numbers below its cumulative point + window. The oldest segment
    // still held here is at or below that point, so staying within it never overflows the peer.
    const oldest = this.oldestUnacked()?.seq ?? next.seq;
    return next.seq < oldest + this.window ? next : undefined;
  }

  /** Records that `segment` went out in packet `packetNumber`. */
  markSent(segment: Segment, packetNumber: number, now: number): void {
    if (segment.transmissions === 0) {
      this.queueHead += 1;
      this.inFlight.set(segment.seq, segment);
      segment.firstSentAt = now;
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.queueHead);
        this.queueHead = 0;
      }
    } else if (segment.lost) {
      segment.lost = false;
      this.retransmitQueue.shift();
    }
    segment.transmissions += 1;
    segment.lastSentPn = packetNumber;
    segment.lastSentAt = now;
  }

  /** Records the send time of an ack-eliciting packet for RTT sampling. */
  trackPacket(packetNumber: number, now: number): void {
    this.sentTimes.set(packetNumber, now);
    if (this.sentTimes.size > MAX_TRACKED_PACKETS) {
      const oldest = this.sentTimes.keys().next().value as number;
      this.sentTimes.delete(oldest);
    }
  }

  oldestUnacked(): Segment | undefined {
    return this.inFlight.values().next().value;
  }

  /** Applies an ACK: frees acknowledged segments, takes an RTT sample, detects losses. */
  onAck(ack: AckFrame, now: number): AckOutcome {
    let newlyAcked = 0;
    for (const [seq, segment] of this.inFlight) {
      if (seq >= ack.cumulative && !inRanges(seq, ack.ranges)) continue;
      this.inFlight.delete(seq);
      this.bytes -= segment.payload.length;
      segment.lost = false;
      newlyAcked += 1;
    }

    if (ack.largestPacket > this.largestAckedPn) {
      this.largestAckedPn = ack.largestPacket;
      const sentAt = this.sentTimes.get(ack.largestPacket);
      if (sentAt !== undefined) {
        const measured = now - sentAt;
        // Subtract the peer's ACK delay only when the result stays positive (RFC 9002 section 5.3).
        this.rtt.addSample(measured - ack.ackDelayMs >= 1 ? measured - ack.ackDelayMs : measured);
      }
      for (const pn of this.sentTimes.keys()) {
        if (pn > ack.largestPacket) break;
        this.sentTimes.delete(pn);
      }
    }

    // A receiver lists at most MAX_ACK_RANGES ranges and reports nothing above the last one, so
    // segments there must not be declared lost on this ACK's evidence.
    const last = ack.ranges[ack.ranges.length - 1];
    const reportedUpTo = ack.ranges.length >= MAX_ACK_RANGES && last ? last.end : Infinity;
    const newlyLost = this.detectLosses(now, reportedUpTo);
    return { newlyAcked, newlyLost };
  }

  private detectLosses(now: number, reportedUpTo: number): number {
    let lost = 0;
    const lossDelay = this.rtt.lossDelay;
    for (const segment of this.inFlight.values()) {
      if (segment.seq >= reportedUpTo) break;
      if (segment.lost || segment.lastSentPn >= this.largestAckedPn) continue;
      const byCount = this.largestAckedPn - segment.lastSentPn >= PACKET_THRESHOLD;
      const byTime = now - segment.lastSentAt >= lossDelay;
      if (byCount || byTime) {
        this.declareLost(segment);
        lost += 1;
      }
    }
    return lost;
  }

  private declareLost(segment: Segment): void {
    segment.lost = true;
    this.retransmitQueue.push(segment);
  }

  /** Time at which the retransmission timer should fire, or undefined when nothing is in flight. */
  rtoDeadline(): number | undefined {
    let earliest: number | undefined;
    for (const segment of this.inFlight.values()) {
      if (segment.lost) continue;
      if (earliest === undefined || segment.lastSentAt < earliest) earliest = segment.lastSentAt;
    }
    if (earliest === undefined) return this.retransmitQueue.length > 0 ? 0 : undefined;
    return earliest + this.rtt.rto;
  }

  /**
   * Handles a retransmission timer expiry (RFC 6298 section 5.4-5.6): every segment whose last
   * transmission is older than the RTO is queued again, then the RTO backs off. Returns how many.
   */
  onRtoExpired(now: number): number {
    const rto = this.rtt.rto;
    let expired = 0;
    for (const segment of this.inFlight.values()) {
      if (!segment.lost && now - segment.lastSentAt >= rto) {
        this.declareLost(segment);
        expired += 1;
      }
    }
    if (expired > 0) this.rtt.backOff();
    return expired;
  }
}

function inRanges(seq: number, ranges: { start: number; end: number }[]): boolean {
  for (const range of ranges) {
    if (seq < range.start) return false;
    if (seq < range.end) return true;
  }
  return false;
}
