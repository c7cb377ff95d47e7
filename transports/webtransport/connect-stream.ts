// Parser for the stream of an extended CONNECT request (client to server) or its response (server
// to client): HTTP/3 frames, whose DATA payloads carry capsules once the session is up.
//
// Capsules belong in DATA frames (RFC 9297 section 3.2). Some draft-02 implementations write them
// bare, as if each capsule were a frame of its own. Both layouts share Type (i) + Length (i), so a
// bare CLOSE_WEBTRANSPORT_SESSION (0x2843) or DRAIN_WEBTRANSPORT_SESSION (0x78ae) would read as an
// unknown frame type. These two types are therefore decoded as capsules instead of being skipped.
// A bare DATAGRAM capsule (0x00) looks exactly like a DATA frame and is read as one.
import { CapsuleParser, CapsuleType, encodeCapsule, type Capsule } from './h3/capsules.js';
import { H3Error, H3ErrorCode } from './h3/errors.js';
import { FrameType } from './h3/frames.js';
import { TlvReader, type TlvAction } from './h3/tlv-reader.js';
import type { StreamSource } from './stream-source.js';

export type ConnectStreamEvent =
  | { type: 'headers'; fieldSection: Uint8Array }
  | { type: 'capsule'; capsule: Capsule; bare: boolean };

export interface ConnectStreamReaderOptions {
  maxFieldSectionSize: number;
}

/** Frame types that never appear on a request stream (RFC 9114 sections 7.2.3 to 7.2.7). */
const CONTROL_ONLY = new Set<bigint>([FrameType.CANCEL_PUSH, FrameType.SETTINGS, FrameType.GOAWAY, FrameType.MAX_PUSH_ID]);
/** HTTP/2 frame types with no HTTP/3 meaning (RFC 9114 section 7.2.8). */
const HTTP2_ONLY = new Set<bigint>([0x02n, 0x06n, 0x08n, 0x09n]);

export class ConnectStreamReader {
  private readonly reader: TlvReader;
  private readonly capsules = new CapsuleParser();
  private events: ConnectStreamEvent[] = [];
  /** Events read past the HEADERS frame that nextHeaders() returned. */
  private queued: ConnectStreamEvent[] = [];
  private headersSeen = 0;

  constructor(private readonly options: ConnectStreamReaderOptions) {
    this.reader = new TlvReader(
      {
        header: (type, length) => this.onHeader(type, length),
        value: (type, value) => this.onValue(type, value),
        piece: (_type, data) => {
          for (const capsule of this.capsules.push(data)) this.events.push({ type: 'capsule', capsule, bare: false });
        },
      },
      { truncatedCode: H3ErrorCode.H3_FRAME_ERROR, oversizeCode: H3ErrorCode.H3_EXCESSIVE_LOAD, elementName: 'frame' },
    );
  }

  /** Feeds one chunk; returns the events it completes. Throws H3Error, after which the reader stays failed. */
  push(chunk: Uint8Array): ConnectStreamEvent[] {
    this.events = [];
    this.reader.push(chunk);
    return this.events;
  }

  /**
   * Reads from `source` until the next HEADERS frame and returns its field section, or null when
   * the stream ends first. Events after it stay queued for takeQueued().
   */
  async nextHeaders(source: StreamSource): Promise<Uint8Array | null> {
    for (;;) {
      const index = this.queued.findIndex((event) => event.type === 'headers');
      if (index >= 0) {
        const [event] = this.queued.splice(0, index + 1).slice(-1);
        return (event as { fieldSection: Uint8Array }).fieldSection;
      }
      const chunk = await source.read();
      if (chunk === null) {
        this.finish();
        return null;
      }
      this.queued.push(...this.push(chunk));
    }
  }

  /** Returns and clears the events queued by nextHeaders(). */
  takeQueued(): ConnectStreamEvent[] {
    const queued = this.queued;
    this.queued = [];
    return queued;
  }

  /** Declares the end of the stream; a frame or capsule cut short is an error (RFC 9114 section 7.1, RFC 9297 section 3.3). */
  finish(): void {
    this.reader.finish();
    this.capsules.finish();
  }

  private onHeader(type: bigint, length: bigint): TlvAction {
    if (type === FrameType.HEADERS) {
      if (length > BigInt(this.options.maxFieldSectionSize)) {
        throw new H3Error(H3ErrorCode.H3_EXCESSIVE_LOAD, `HEADERS frame of ${length} bytes exceeds the limit of ${this.options.maxFieldSectionSize}`);
      }
      return 'buffer';
    }
    if (type === FrameType.DATA) {
      // RFC 9114 section 4.1: DATA before the first HEADERS frame is H3_FRAME_UNEXPECTED.
      if (this.headersSeen === 0) throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, 'DATA frame before HEADERS on a request stream');
      return 'stream';
    }
    if (type === CapsuleType.CLOSE_WEBTRANSPORT_SESSION || type === CapsuleType.DRAIN_WEBTRANSPORT_SESSION) {
      if (this.headersSeen === 0) throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, `capsule 0x${type.toString(16)} before HEADERS`);
      // The bare capsule parser below applies the same size rules as capsules inside DATA frames.
      if (length > 4n + 1024n) throw new H3Error(H3ErrorCode.H3_DATAGRAM_ERROR, `capsule 0x${type.toString(16)} of ${length} bytes is too long`);
      return 'buffer';
    }
    if (CONTROL_ONLY.has(type) || HTTP2_ONLY.has(type) || type === FrameType.PUSH_PROMISE || type === FrameType.WEBTRANSPORT_STREAM) {
      throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, `frame type 0x${type.toString(16)} on a request stream`);
    }
    // Unknown and reserved frame types are ignored (RFC 9114 section 9).
    return 'skip';
  }

  private onValue(type: bigint, value: Uint8Array): void {
    if (type === FrameType.HEADERS) {
      this.headersSeen += 1;
      this.events.push({ type: 'headers', fieldSection: value });
      return;
    }
    const bare = new CapsuleParser();
    for (const capsule of bare.push(encodeCapsule(type, value))) this.events.push({ type: 'capsule', capsule, bare: true });
  }
}
