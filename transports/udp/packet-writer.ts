// Builds DATA packets: an ACK when one is pending, then as many segments as fit; seals them and
// hands them to the connection. Also decides when small packets are sent twice.
import {
  ByteWriter,
  MAX_SEGMENT_HEADER,
  segmentFrameSize,
  varintSize,
  writeAck,
  writeClose,
  writeDatagram,
  writePing,
  writeSegment,
} from './frames.js';
import { encodeDataHeader, MAX_DATA_PLAINTEXT } from './packet.js';
import type { AckTracker, ReliableReceiver } from './receiver.js';
import type { ReliableSender, Segment } from './sender.js';
import type { ResolvedUdpSettings } from './settings.js';

/** Room kept for a piggybacked ACK when sizing fragments, so a full fragment and a typical ACK share a packet. */
const ACK_RESERVE = 64;
/** Payload bytes per fragment: a full DATA datagram minus headers, tag and the ACK reserve. */
export const FRAGMENT_SIZE = MAX_DATA_PLAINTEXT - MAX_SEGMENT_HEADER - ACK_RESERVE;

/**
 * Maximum packets sent per flush. The rest goes out on the next turn of the event loop, so one
 * large send() does not overflow the socket buffers on the way. Each datagram costs about 2 KB of
 * kernel buffer, and Linux's default receive buffer is about 208 KB.
 */
const MAX_BURST_PACKETS = 16;

/** The connection operations the writer uses. */
export interface PacketSink {
  readonly cid: Buffer;
  allocatePacketNumber(): number;
  sealPacket(packetNumber: number, header: Buffer, plaintext: Uint8Array): Buffer;
  transmit(datagram: Buffer): void;
}

export class PacketWriter {
  private duplicateActive: boolean;

  constructor(
    private readonly sink: PacketSink,
    private readonly settings: ResolvedUdpSettings,
    private readonly sender: ReliableSender,
    private readonly acks: AckTracker,
    private readonly receiver: ReliableReceiver,
  ) {
    this.duplicateActive = settings.duplicateSmallFrames === 'always';
  }

  /** Returns whether an unreliable frame of this size fits in one datagram next to a typical ACK. */
  fitsDatagram(length: number): boolean {
    return 1 + varintSize(length) + length <= FRAGMENT_SIZE + MAX_SEGMENT_HEADER;
  }

  /**
   * Switches duplicate sending for 'auto' from the loss the peer measured, with hysteresis (on
   * above the threshold, off below half of it) so it does not flap around one value.
   */
  onPeerLoss(lossRate: number): void {
    if (this.settings.duplicateSmallFrames !== 'auto') return;
    const threshold = this.settings.duplicateLossThreshold;
    if (lossRate > threshold) this.duplicateActive = true;
    else if (lossRate < threshold / 2) this.duplicateActive = false;
  }

  get duplicating(): boolean {
    return this.duplicateActive;
  }

  /**
   * Sends every segment the sender releases and, when `forceAck` or an immediate ACK is due, an
   * ACK even without data, up to MAX_BURST_PACKETS packets. Returns the number of duplicate
   * packets sent and whether more is ready to send.
   */
  flush(forceAck: boolean): { duplicates: number; more: boolean } {
    const now = this.settings.clock.now();
    let duplicates = 0;
    for (let packets = 0; ; packets++) {
      let segment = this.sender.peekNext();
      const ackDue = this.acks.pending && (forceAck || this.acks.immediate);
      if (!segment && !ackDue) break;
      if (packets >= MAX_BURST_PACKETS) return { duplicates, more: true };

      const packetNumber = this.sink.allocatePacketNumber();
      const writer = new ByteWriter(MAX_DATA_PLAINTEXT);
      if (this.acks.pending) writeAck(writer, this.acks.buildAck(now, this.receiver.ackRanges()));
      const carried: Segment[] = [];
      let payloadBytes = 0;
      while (segment) {
        const size = segmentFrameSize(segment.seq, segment.flags, segment.totalLength, segment.payload.length);
        if (size > writer.remaining) break;
        writeSegment(writer, segment.seq, segment.flags, segment.totalLength, segment.payload);
        this.sender.markSent(segment, packetNumber, now);
        carried.push(segment);
        payloadBytes += segment.payload.length;
        segment = this.sender.peekNext();
      }
      const plaintext = writer.finish();
      const ackEliciting = carried.length > 0;
      this.emit(packetNumber, plaintext, ackEliciting, now);

      // A second copy under a new packet number: on a path losing p of its packets the pair is
      // lost with p^2, which saves a retransmission round trip for small, latency-critical frames.
      if (ackEliciting && this.duplicateActive && payloadBytes <= this.settings.duplicateMaxBytes) {
        const copyNumber = this.sink.allocatePacketNumber();
        for (const sent of carried) this.sender.markSent(sent, copyNumber, now);
        this.emit(copyNumber, plaintext, true, now);
        duplicates += 1;
      }
    }
    return { duplicates, more: false };
  }

  /** Sends an unreliable frame in a packet of its own (with a pending ACK when both fit). */
  sendDatagramFrame(frame: Uint8Array): void {
    const now = this.settings.clock.now();
    const packetNumber = this.sink.allocatePacketNumber();
    const writer = new ByteWriter(MAX_DATA_PLAINTEXT);
    if (this.acks.pending) {
      const ack = this.acks.buildAck(now, this.receiver.ackRanges());
      writeAck(writer, ack);
      if (writer.remaining < 1 + varintSize(frame.length) + frame.length) {
        // The ACK is too large to share this packet: send it alone first.
        this.emit(packetNumber, writer.finish(), false, now);
        this.sendDatagramFrame(frame);
        return;
      }
    }
    writeDatagram(writer, frame);
    this.emit(packetNumber, writer.finish(), true, now);
  }

  /** Sends an ack-eliciting PING (client handshake confirmation). */
  sendPing(): void {
    const now = this.settings.clock.now();
    const packetNumber = this.sink.allocatePacketNumber();
    const writer = new ByteWriter(MAX_DATA_PLAINTEXT);
    if (this.acks.pending) writeAck(writer, this.acks.buildAck(now, this.receiver.ackRanges()));
    writePing(writer);
    this.emit(packetNumber, writer.finish(), true, now);
  }

  /** Sends a CLOSE frame and returns the sealed datagram, so it can be repeated verbatim. */
  sendClose(code: number, reason: string): Buffer {
    const writer = new ByteWriter(MAX_DATA_PLAINTEXT);
    writeClose(writer, code, reason);
    return this.emit(this.sink.allocatePacketNumber(), writer.finish(), false, this.settings.clock.now());
  }

  private emit(packetNumber: number, plaintext: Uint8Array, ackEliciting: boolean, now: number): Buffer {
    const header = encodeDataHeader(this.sink.cid, packetNumber);
    const datagram = Buffer.concat([header, this.sink.sealPacket(packetNumber, header, plaintext)]);
    this.sink.transmit(datagram);
    if (ackEliciting) this.sender.trackPacket(packetNumber, now);
    return datagram;
  }
}
