// The frames inside a DATA packet's encrypted payload. One packet carries an optional ACK and any
// number of other frames. Integers are unsigned LEB128 varints, as in the stream length prefix.
import { ProtocolError } from '../../src/errors.js';

export const FrameType = {
  ACK: 0x01,
  SEGMENT: 0x02,
  DATAGRAM: 0x03,
  PING: 0x04,
  CLOSE: 0x05,
} as const;

export const SegmentFlag = {
  /** First fragment of a frame; the segment also carries the frame's total length. */
  START: 0x01,
  /** Last fragment of a frame. */
  END: 0x02,
} as const;

/** A received range of segment sequence numbers, `start` inclusive, `end` exclusive. */
export interface SeqRange {
  start: number;
  end: number;
}

export interface AckFrame {
  type: typeof FrameType.ACK;
  /** Largest ack-eliciting packet number received, or -1 before any; the sender takes RTT samples from it. */
  largestPacket: number;
  /** Milliseconds between receiving largestPacket and sending this ACK (subtracted from RTT samples). */
  ackDelayMs: number;
  /** Packet loss the receiver measured on the path towards it, in permille (drives duplicate sending). */
  lossPermille: number;
  /** Every segment below this sequence number was received (cumulative acknowledgement). */
  cumulative: number;
  /** Segments received above `cumulative`, ascending and disjoint (selective acknowledgement). */
  ranges: SeqRange[];
}

export interface SegmentFrame {
  type: typeof FrameType.SEGMENT;
  seq: number;
  flags: number;
  /** Length of the whole frame; present on START fragments. */
  totalLength: number;
  payload: Uint8Array;
}

export type InnerFrame =
  | AckFrame
  | SegmentFrame
  | { type: typeof FrameType.DATAGRAM; payload: Uint8Array }
  | { type: typeof FrameType.PING }
  | { type: typeof FrameType.CLOSE; code: number; reason: string };

/** Largest encoded size of a SEGMENT frame header (type, seq, flags, total length, payload length). */
export const MAX_SEGMENT_HEADER = 1 + 8 + 1 + 5 + 3;

export class ByteWriter {
  private readonly buffer: Buffer;
  offset = 0;

  constructor(capacity: number) {
    this.buffer = Buffer.allocUnsafe(capacity);
  }

  get remaining(): number {
    return this.buffer.length - this.offset;
  }

  byte(value: number): void {
    this.buffer[this.offset++] = value;
  }

  varint(value: number): void {
    let rest = value;
    while (rest >= 0x80) {
      this.buffer[this.offset++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.buffer[this.offset++] = rest;
  }

  bytes(value: Uint8Array): void {
    this.buffer.set(value, this.offset);
    this.offset += value.length;
  }

  finish(): Buffer {
    return this.buffer.subarray(0, this.offset);
  }
}

export function varintSize(value: number): number {
  let size = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) size += 1;
  return size;
}

class ByteReader {
  offset = 0;
  constructor(private readonly buffer: Uint8Array) {}

  get done(): boolean {
    return this.offset >= this.buffer.length;
  }

  byte(): number {
    if (this.offset >= this.buffer.length) throw new ProtocolError('udp packet payload ends inside a frame');
    return this.buffer[this.offset++]!;
  }

  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 8; shift++) {
      const byte = this.byte();
      value += (byte & 0x7f) * 2 ** (7 * shift);
      if ((byte & 0x80) === 0) return value;
    }
    throw new ProtocolError('udp frame varint is longer than 8 bytes');
  }

  bytes(length: number): Uint8Array {
    if (this.offset + length > this.buffer.length) throw new ProtocolError(`udp frame declares ${length} bytes but only ${this.buffer.length - this.offset} remain`);
    const out = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }
}

export function ackFrameSize(ack: AckFrame): number {
  let size = 1 + varintSize(ack.largestPacket + 1) + varintSize(ack.ackDelayMs) + varintSize(ack.lossPermille) + varintSize(ack.cumulative) + varintSize(ack.ranges.length);
  let previous = ack.cumulative;
  for (const range of ack.ranges) {
    size += varintSize(range.start - previous) + varintSize(range.end - range.start);
    previous = range.end;
  }
  return size;
}

export function writeAck(writer: ByteWriter, ack: AckFrame): void {
  writer.byte(FrameType.ACK);
  writer.varint(ack.largestPacket + 1);
  writer.varint(ack.ackDelayMs);
  writer.varint(ack.lossPermille);
  writer.varint(ack.cumulative);
  writer.varint(ack.ranges.length);
  // Ranges are sent as (gap, length) pairs relative to the previous range end: small numbers.
  let previous = ack.cumulative;
  for (const range of ack.ranges) {
    writer.varint(range.start - previous);
    writer.varint(range.end - range.start);
    previous = range.end;
  }
}

export function segmentFrameSize(seq: number, flags: number, totalLength: number, payloadLength: number): number {
  const total = flags & SegmentFlag.START ? varintSize(totalLength) : 0;
  return 1 + varintSize(seq) + 1 + total + varintSize(payloadLength) + payloadLength;
}

export function writeSegment(writer: ByteWriter, seq: number, flags: number, totalLength: number, payload: Uint8Array): void {
  writer.byte(FrameType.SEGMENT);
  writer.varint(seq);
  writer.byte(flags);
  if (flags & SegmentFlag.START) writer.varint(totalLength);
  writer.varint(payload.length);
  writer.bytes(payload);
}

export function writeDatagram(writer: ByteWriter, payload: Uint8Array): void {
  writer.byte(FrameType.DATAGRAM);
  writer.varint(payload.length);
  writer.bytes(payload);
}

export function writePing(writer: ByteWriter): void {
  writer.byte(FrameType.PING);
}

export function writeClose(writer: ByteWriter, code: number, reason: string): void {
  const text = Buffer.from(reason.slice(0, 200), 'utf8');
  writer.byte(FrameType.CLOSE);
  writer.varint(code);
  writer.varint(text.length);
  writer.bytes(text);
}

/** Decodes every frame of an authenticated payload; malformed content raises ProtocolError. */
export function readFrames(payload: Uint8Array): InnerFrame[] {
  const reader = new ByteReader(payload);
  const frames: InnerFrame[] = [];
  while (!reader.done) {
    const type = reader.byte();
    switch (type) {
      case FrameType.ACK: {
        const largestPacket = reader.varint() - 1;
        const ackDelayMs = reader.varint();
        const lossPermille = Math.min(reader.varint(), 1000);
        const cumulative = reader.varint();
        const count = reader.varint();
        const ranges: SeqRange[] = [];
        let previous = cumulative;
        for (let i = 0; i < count; i++) {
          const gap = reader.varint();
          const length = reader.varint();
          if (gap < 1 || length < 1) throw new ProtocolError('udp ACK range is empty or overlaps the previous one');
          const start = previous + gap;
          ranges.push({ start, end: start + length });
          previous = start + length;
        }
        frames.push({ type, largestPacket, ackDelayMs, lossPermille, cumulative, ranges });
        break;
      }
      case FrameType.SEGMENT: {
        const seq = reader.varint();
        const flags = reader.byte();
        const totalLength = flags & SegmentFlag.START ? reader.varint() : 0;
        const payloadLength = reader.varint();
        frames.push({ type, seq, flags, totalLength, payload: reader.bytes(payloadLength) });
        break;
      }
      case FrameType.DATAGRAM:
        frames.push({ type, payload: reader.bytes(reader.varint()) });
        break;
      case FrameType.PING:
        frames.push({ type });
        break;
      case FrameType.CLOSE: {
        const code = reader.varint();
        const reason = Buffer.from(reader.bytes(reader.varint())).toString('utf8');
        frames.push({ type, code, reason });
        break;
      }
      default:
        throw new ProtocolError(`unknown udp frame type 0x${type.toString(16)}`);
    }
  }
  return frames;
}
