// Capsules (RFC 9297 §3.2) as WebTransport uses them on the CONNECT stream: Type (i), Length (i),
// Value. In HTTP/3 they travel inside the payloads of DATA frames, so the parser takes the
// concatenated DATA payload split at any byte.
//
// Known types: DATAGRAM (0x00, RFC 9297 §3.5), CLOSE_WEBTRANSPORT_SESSION (0x2843: a 32-bit
// application error code and a UTF-8 message of at most 1024 bytes) and DRAIN_WEBTRANSPORT_SESSION
// (0x78ae, empty), both from draft-ietf-webtrans-http3. Unknown and GREASE types (0x29 * N + 0x17,
// RFC 9297 §5.4) are skipped without buffering, as §3.2 requires. Parse errors are
// H3_DATAGRAM_ERROR, the code RFC 9297 §5.2 registers for capsule protocol parse errors.
import { H3Error, H3ErrorCode } from './errors.js';
import { TlvReader, type TlvAction } from './tlv-reader.js';
import { varintLength, writeVarint } from './varint.js';

export const CapsuleType = {
  DATAGRAM: 0x00n,
  CLOSE_WEBTRANSPORT_SESSION: 0x2843n,
  DRAIN_WEBTRANSPORT_SESSION: 0x78aen,
} as const;

/** Longest CLOSE_WEBTRANSPORT_SESSION message, in bytes of UTF-8. */
export const MAX_CLOSE_MESSAGE_BYTES = 1024;

export const DEFAULT_MAX_CAPSULE_SIZE = 64 * 1024;

export type Capsule =
  | { type: 'datagram'; payload: Uint8Array }
  | { type: 'close-session'; code: number; message: string }
  | { type: 'drain-session' };

export interface CapsuleParserOptions {
  /** Largest buffered capsule value in bytes (DATAGRAM capsules); default 64 KiB. */
  maxCapsuleSize?: number;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

function capsuleError(message: string): H3Error {
  return new H3Error(H3ErrorCode.H3_DATAGRAM_ERROR, message);
}

/** True for the reserved capsule types 0x29 * N + 0x17 of RFC 9297 §5.4. */
export function isGreaseCapsuleType(type: bigint): boolean {
  return type >= 0x17n && (type - 0x17n) % 0x29n === 0n;
}

function decodeCloseSession(value: Uint8Array): Capsule {
  if (value.length < 4) throw capsuleError(`CLOSE_WEBTRANSPORT_SESSION value of ${value.length} bytes is shorter than its 4-byte error code`);
  if (value.length - 4 > MAX_CLOSE_MESSAGE_BYTES) {
    throw capsuleError(`CLOSE_WEBTRANSPORT_SESSION message of ${value.length - 4} bytes exceeds ${MAX_CLOSE_MESSAGE_BYTES} bytes`);
  }
  const code = new DataView(value.buffer, value.byteOffset, 4).getUint32(0);
  let message: string;
  try {
    message = utf8Decoder.decode(value.subarray(4));
  } catch (error) {
    throw new H3Error(H3ErrorCode.H3_DATAGRAM_ERROR, 'CLOSE_WEBTRANSPORT_SESSION message is not valid UTF-8', { cause: error });
  }
  return { type: 'close-session', code, message };
}

/** Incremental capsule parser for one CONNECT stream. */
export class CapsuleParser {
  readonly maxCapsuleSize: number;
  private readonly reader: TlvReader;
  private capsules: Capsule[] = [];

  constructor(options: CapsuleParserOptions = {}) {
    this.maxCapsuleSize = options.maxCapsuleSize ?? DEFAULT_MAX_CAPSULE_SIZE;
    if (!Number.isSafeInteger(this.maxCapsuleSize) || this.maxCapsuleSize < 4 + MAX_CLOSE_MESSAGE_BYTES) {
      throw new RangeError(`maxCapsuleSize must be an integer of at least ${4 + MAX_CLOSE_MESSAGE_BYTES}, got ${this.maxCapsuleSize}`);
    }
    this.reader = new TlvReader(
      {
        header: (type, length) => this.onHeader(type, length),
        value: (type, value) => this.onValue(type, value),
        piece: () => undefined,
      },
      { truncatedCode: H3ErrorCode.H3_DATAGRAM_ERROR, oversizeCode: H3ErrorCode.H3_EXCESSIVE_LOAD, elementName: 'capsule' },
    );
  }

  /** Feeds one chunk of DATA payload and returns the capsules it completes. Throws H3Error; the parser then stays failed. */
  push(chunk: Uint8Array): Capsule[] {
    this.capsules = [];
    this.reader.push(chunk);
    return this.capsules;
  }

  /** Declares the end of the stream; a capsule cut short is an error (RFC 9297 §3.3). */
  finish(): void {
    this.reader.finish();
  }

  private onHeader(type: bigint, length: bigint): TlvAction {
    switch (type) {
      case CapsuleType.CLOSE_WEBTRANSPORT_SESSION:
        if (length > BigInt(4 + MAX_CLOSE_MESSAGE_BYTES)) {
          throw capsuleError(`CLOSE_WEBTRANSPORT_SESSION of ${length} bytes exceeds ${4 + MAX_CLOSE_MESSAGE_BYTES} bytes`);
        }
        return 'buffer';
      case CapsuleType.DRAIN_WEBTRANSPORT_SESSION:
        if (length !== 0n) throw capsuleError(`DRAIN_WEBTRANSPORT_SESSION must be empty, got ${length} bytes`);
        return 'buffer';
      case CapsuleType.DATAGRAM:
        if (length > BigInt(this.maxCapsuleSize)) {
          throw new H3Error(H3ErrorCode.H3_EXCESSIVE_LOAD, `DATAGRAM capsule of ${length} bytes exceeds the maximum of ${this.maxCapsuleSize}`);
        }
        return 'buffer';
      default:
        return 'skip';
    }
  }

  private onValue(type: bigint, value: Uint8Array): void {
    if (type === CapsuleType.CLOSE_WEBTRANSPORT_SESSION) this.capsules.push(decodeCloseSession(value));
    else if (type === CapsuleType.DRAIN_WEBTRANSPORT_SESSION) this.capsules.push({ type: 'drain-session' });
    else if (type === CapsuleType.DATAGRAM) this.capsules.push({ type: 'datagram', payload: value });
  }
}

/** Encodes one capsule: type, value length, value. */
export function encodeCapsule(type: number | bigint, value: Uint8Array): Uint8Array {
  const typeLength = varintLength(type);
  const lengthLength = varintLength(value.length);
  const out = new Uint8Array(typeLength + lengthLength + value.length);
  writeVarint(out, 0, type);
  writeVarint(out, typeLength, value.length);
  out.set(value, typeLength + lengthLength);
  return out;
}

/** Cuts UTF-8 text to at most `maxBytes` bytes without splitting a character. */
function truncateUtf8(text: string, maxBytes: number): Uint8Array {
  const bytes = utf8Encoder.encode(text);
  if (bytes.length <= maxBytes) return bytes;
  let end = maxBytes;
  // Continuation bytes look like 10xxxxxx; back up to the start of the character they belong to.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/**
 * Encodes CLOSE_WEBTRANSPORT_SESSION. A message longer than 1024 bytes of UTF-8 is cut at a
 * character boundary, because the limit is part of the format.
 */
export function encodeCloseSessionCapsule(code: number, message = ''): Uint8Array {
  if (!Number.isInteger(code) || code < 0 || code > 0xffffffff) throw new RangeError(`close code must be a 32-bit unsigned integer, got ${code}`);
  const text = truncateUtf8(message, MAX_CLOSE_MESSAGE_BYTES);
  const value = new Uint8Array(4 + text.length);
  new DataView(value.buffer).setUint32(0, code);
  value.set(text, 4);
  return encodeCapsule(CapsuleType.CLOSE_WEBTRANSPORT_SESSION, value);
}

export function encodeDrainSessionCapsule(): Uint8Array {
  return encodeCapsule(CapsuleType.DRAIN_WEBTRANSPORT_SESSION, new Uint8Array(0));
}

export function encodeDatagramCapsule(payload: Uint8Array): Uint8Array {
  return encodeCapsule(CapsuleType.DATAGRAM, payload);
}
