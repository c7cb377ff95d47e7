// HTTP/3 frames (RFC 9114 §7): encoders and an incremental parser.
//
// The parser takes stream bytes split at any offset and emits typed events. DATA payloads are
// streamed as they arrive, because a DATA frame may be far larger than any buffer worth holding.
// Every other known frame is buffered whole, up to maxFrameSize. Unknown frame types, GREASE types
// included, are skipped without buffering (§7.2.8, §9). On a request stream the WebTransport
// signal value 0x41 ends HTTP/3 framing: the session id follows and the rest of the stream is
// WebTransport data (draft-ietf-webtrans-http3, "Bidirectional Streams").
import { H3Error, H3ErrorCode } from './errors.js';
import { checkSettingValues, type Settings } from './settings.js';
import { TlvReader, type TlvAction } from './tlv-reader.js';
import { concatBytes, decodeVarint, encodeVarint, varintLength, writeVarint } from './varint.js';

/** Frame types of RFC 9114 §7.2, plus the WebTransport stream signal. */
export const FrameType = {
  DATA: 0x00n,
  HEADERS: 0x01n,
  CANCEL_PUSH: 0x03n,
  SETTINGS: 0x04n,
  PUSH_PROMISE: 0x05n,
  GOAWAY: 0x07n,
  MAX_PUSH_ID: 0x0dn,
  /** Opens a WebTransport bidirectional stream; followed by the session id, not a length. */
  WEBTRANSPORT_STREAM: 0x41n,
} as const;

/** HTTP/2 frame types with no HTTP/3 counterpart; receiving one is H3_FRAME_UNEXPECTED (§7.2.8). */
const RESERVED_HTTP2_FRAME_TYPES = new Set([0x02n, 0x06n, 0x08n, 0x09n]);

/** HTTP/2 setting ids with no HTTP/3 counterpart; receiving one is H3_SETTINGS_ERROR (§7.2.4.1). */
const RESERVED_HTTP2_SETTINGS = new Set([0x02n, 0x03n, 0x04n, 0x05n]);

export type H3FrameEvent =
  /** A piece of a DATA frame; `final` marks the last piece of that frame. */
  | { type: 'data'; payload: Uint8Array; final: boolean }
  /** An encoded field section; decode it with decodeFieldSection (qpack.ts). */
  | { type: 'headers'; fieldSection: Uint8Array }
  | { type: 'settings'; settings: Settings }
  | { type: 'goaway'; id: bigint }
  | { type: 'max-push-id'; pushId: bigint }
  | { type: 'cancel-push'; pushId: bigint }
  | { type: 'push-promise'; pushId: bigint; fieldSection: Uint8Array }
  /** The stream is a WebTransport stream of this session from here on. */
  | { type: 'webtransport-stream'; sessionId: number }
  /** Bytes after the WebTransport signal; not HTTP/3 frames. */
  | { type: 'webtransport-data'; payload: Uint8Array };

/**
 * Stream kind that selects the frame rules of RFC 9114 §6.2.1 and §7.2. A control stream starts
 * with SETTINGS and never carries DATA, HEADERS or PUSH_PROMISE. A request stream never carries
 * SETTINGS, GOAWAY, MAX_PUSH_ID or CANCEL_PUSH. 'any' applies no stream rules.
 */
export type FrameStreamKind = 'control' | 'request' | 'any';

export interface FrameParserOptions {
  /** Largest buffered frame payload in bytes; DATA and skipped frames are not buffered. Default 64 KiB. */
  maxFrameSize?: number;
  stream?: FrameStreamKind;
}

export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024;

const CONTROL_ONLY = new Set<bigint>([FrameType.SETTINGS, FrameType.GOAWAY, FrameType.MAX_PUSH_ID, FrameType.CANCEL_PUSH]);
const REQUEST_ONLY = new Set<bigint>([FrameType.DATA, FrameType.HEADERS, FrameType.PUSH_PROMISE]);

function frameError(message: string): H3Error {
  return new H3Error(H3ErrorCode.H3_FRAME_ERROR, message);
}

/** Reads exactly one varint filling the whole payload; anything else is H3_FRAME_ERROR (§7.1). */
function singleVarintPayload(payload: Uint8Array, frame: string): bigint {
  const decoded = decodeVarint(payload, 0);
  if (!decoded || decoded.length !== payload.length) throw frameError(`${frame} payload must be exactly one varint`);
  return decoded.value;
}

/**
 * Decodes a SETTINGS payload (RFC 9114 §7.2.4): pairs of varint identifier and value. Unknown
 * identifiers are kept (callers ignore what they do not know, §7.2.4.1 and §9).
 */
export function decodeSettingsPayload(payload: Uint8Array): Map<bigint, bigint> {
  const settings = new Map<bigint, bigint>();
  let offset = 0;
  while (offset < payload.length) {
    const id = decodeVarint(payload, offset);
    const value = id ? decodeVarint(payload, offset + id.length) : null;
    if (!id || !value) throw frameError('SETTINGS payload ends inside a setting');
    offset += id.length + value.length;
    if (RESERVED_HTTP2_SETTINGS.has(id.value)) {
      throw new H3Error(H3ErrorCode.H3_SETTINGS_ERROR, `setting 0x${id.value.toString(16)} is reserved for HTTP/2 and must not be sent`);
    }
    if (settings.has(id.value)) {
      throw new H3Error(H3ErrorCode.H3_SETTINGS_ERROR, `setting 0x${id.value.toString(16)} appears more than once`);
    }
    settings.set(id.value, value.value);
  }
  checkSettingValues(settings);
  return settings;
}

/** Incremental HTTP/3 frame parser for one stream. */
export class FrameParser {
  readonly maxFrameSize: number;
  readonly stream: FrameStreamKind;
  private readonly reader: TlvReader;
  private events: H3FrameEvent[] = [];
  private framesSeen = 0;

  constructor(options: FrameParserOptions = {}) {
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.stream = options.stream ?? 'any';
    if (!Number.isSafeInteger(this.maxFrameSize) || this.maxFrameSize < 1) {
      throw new RangeError(`maxFrameSize must be a positive integer, got ${this.maxFrameSize}`);
    }
    this.reader = new TlvReader(
      {
        header: (type, length) => this.onHeader(type, length),
        value: (type, value) => this.onValue(type, value),
        piece: (type, data, final) => {
          if (type === FrameType.WEBTRANSPORT_STREAM) this.events.push({ type: 'webtransport-data', payload: data });
          else this.events.push({ type: 'data', payload: data, final });
        },
      },
      { truncatedCode: H3ErrorCode.H3_FRAME_ERROR, oversizeCode: H3ErrorCode.H3_EXCESSIVE_LOAD, elementName: 'frame' },
    );
  }

  /** Feeds one chunk and returns the events it completes. Throws H3Error; the parser then stays failed. */
  push(chunk: Uint8Array): H3FrameEvent[] {
    this.events = [];
    this.reader.push(chunk);
    return this.events;
  }

  /** Declares the end of the stream; throws H3_FRAME_ERROR when it ends inside a frame (§7.1). */
  finish(): void {
    this.reader.finish();
  }

  private onHeader(type: bigint, length: bigint): TlvAction {
    const index = this.framesSeen++;
    if (type === FrameType.WEBTRANSPORT_STREAM && this.stream !== 'control') {
      if (index !== 0) throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, 'WebTransport stream signal after the first frame of a stream');
      // Here the second varint is the session id: a client-initiated bidirectional stream id.
      if (length > BigInt(Number.MAX_SAFE_INTEGER) || length % 4n !== 0n) {
        throw new H3Error(H3ErrorCode.H3_ID_ERROR, `WebTransport session id ${length} is not a client-initiated bidirectional stream`);
      }
      this.events.push({ type: 'webtransport-stream', sessionId: Number(length) });
      return 'rest';
    }
    // §6.2.1: any other first frame on a control stream, unknown types included, is H3_MISSING_SETTINGS.
    if (this.stream === 'control' && index === 0 && type !== FrameType.SETTINGS) {
      throw new H3Error(H3ErrorCode.H3_MISSING_SETTINGS, `control stream starts with frame type 0x${type.toString(16)}, not SETTINGS`);
    }
    if (RESERVED_HTTP2_FRAME_TYPES.has(type)) {
      throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, `frame type 0x${type.toString(16)} is reserved for HTTP/2`);
    }
    const known = type === FrameType.DATA || type === FrameType.HEADERS || type === FrameType.SETTINGS || type === FrameType.GOAWAY
      || type === FrameType.MAX_PUSH_ID || type === FrameType.CANCEL_PUSH || type === FrameType.PUSH_PROMISE;
    if (!known) return 'skip';

    this.checkStreamRules(type, index);
    if (type === FrameType.DATA) return 'stream';
    if (length > BigInt(this.maxFrameSize)) {
      throw new H3Error(H3ErrorCode.H3_EXCESSIVE_LOAD, `frame of type 0x${type.toString(16)} declares ${length} bytes, above the maximum of ${this.maxFrameSize}`);
    }
    return 'buffer';
  }

  private checkStreamRules(type: bigint, index: number): void {
    if (this.stream === 'control') {
      // §7.2.4: SETTINGS is sent once, as the first frame (checked in onHeader).
      if (index > 0 && type === FrameType.SETTINGS) throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, 'second SETTINGS frame on the control stream');
      if (REQUEST_ONLY.has(type)) throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, `frame type 0x${type.toString(16)} on the control stream`);
    } else if (this.stream === 'request' && CONTROL_ONLY.has(type)) {
      throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, `frame type 0x${type.toString(16)} on a request stream`);
    }
  }

  private onValue(type: bigint, payload: Uint8Array): void {
    switch (type) {
      case FrameType.HEADERS:
        this.events.push({ type: 'headers', fieldSection: payload });
        return;
      case FrameType.SETTINGS:
        this.events.push({ type: 'settings', settings: decodeSettingsPayload(payload) });
        return;
      case FrameType.GOAWAY:
        this.events.push({ type: 'goaway', id: singleVarintPayload(payload, 'GOAWAY') });
        return;
      case FrameType.MAX_PUSH_ID:
        this.events.push({ type: 'max-push-id', pushId: singleVarintPayload(payload, 'MAX_PUSH_ID') });
        return;
      case FrameType.CANCEL_PUSH:
        this.events.push({ type: 'cancel-push', pushId: singleVarintPayload(payload, 'CANCEL_PUSH') });
        return;
      case FrameType.PUSH_PROMISE: {
        const pushId = decodeVarint(payload, 0);
        if (!pushId) throw frameError('PUSH_PROMISE payload ends inside the push id');
        this.events.push({ type: 'push-promise', pushId: pushId.value, fieldSection: payload.subarray(pushId.length) });
        return;
      }
    }
  }
}

/** Encodes one frame: type, payload length, payload (RFC 9114 §7.1). */
export function encodeFrame(type: number | bigint, payload: Uint8Array): Uint8Array {
  const typeLength = varintLength(type);
  const lengthLength = varintLength(payload.length);
  const out = new Uint8Array(typeLength + lengthLength + payload.length);
  writeVarint(out, 0, type);
  writeVarint(out, typeLength, payload.length);
  out.set(payload, typeLength + lengthLength);
  return out;
}

export function encodeDataFrame(payload: Uint8Array): Uint8Array {
  return encodeFrame(FrameType.DATA, payload);
}

export function encodeHeadersFrame(fieldSection: Uint8Array): Uint8Array {
  return encodeFrame(FrameType.HEADERS, fieldSection);
}

/**
 * Encodes a SETTINGS frame. Throws H3Error for a reserved HTTP/2 identifier, which a peer would
 * treat as H3_SETTINGS_ERROR (§7.2.4.1), and for an identifier given twice.
 */
export function encodeSettingsFrame(settings: Iterable<readonly [number | bigint, number | bigint]>): Uint8Array {
  const parts: Uint8Array[] = [];
  const seen = new Set<bigint>();
  for (const [id, value] of settings) {
    const key = BigInt(id);
    if (RESERVED_HTTP2_SETTINGS.has(key)) throw new H3Error(H3ErrorCode.H3_SETTINGS_ERROR, `setting 0x${key.toString(16)} is reserved for HTTP/2`);
    if (seen.has(key)) throw new H3Error(H3ErrorCode.H3_SETTINGS_ERROR, `setting 0x${key.toString(16)} given twice`);
    seen.add(key);
    parts.push(encodeVarint(id), encodeVarint(value));
  }
  return encodeFrame(FrameType.SETTINGS, concatBytes(parts));
}

/** GOAWAY carries a stream id (from a server) or push id (from a client) (§7.2.6). */
export function encodeGoawayFrame(id: number | bigint): Uint8Array {
  return encodeFrame(FrameType.GOAWAY, encodeVarint(id));
}

/** Encodes a reserved frame type 0x1f * n + 0x21 (§7.2.8) with `payload`, for exercising a peer's skipping. */
export function encodeGreaseFrame(n: number | bigint, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  return encodeFrame(greaseValue(n), payload);
}

/** Returns the reserved ("GREASE") value 0x1f * n + 0x21 of RFC 9114 §7.2.8, §7.2.4.1 and §6.2.3. */
export function greaseValue(n: number | bigint): bigint {
  return 0x1fn * BigInt(n) + 0x21n;
}

/** True for the reserved values 0x1f * N + 0x21 used for frame types, settings and stream types. */
export function isGreaseValue(value: bigint): boolean {
  return value >= 0x21n && (value - 0x21n) % 0x1fn === 0n;
}
