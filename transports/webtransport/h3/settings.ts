// SETTINGS, stream types and datagram framing that WebTransport over HTTP/3 needs.
//
// Browsers have shipped several drafts of WebTransport over HTTP/3, and each announces support
// with different settings. Chromium 156 (Debian package), as captured by this project's probes,
// sends SETTINGS_ENABLE_WEBTRANSPORT (0x2b603742, draft-02) = 1, SETTINGS_H3_DATAGRAM (0x33,
// RFC 9297) = 1 and the draft H3_DATAGRAM setting 0xffd277 = 1. It sends neither
// SETTINGS_ENABLE_CONNECT_PROTOCOL (0x08) nor SETTINGS_WEBTRANSPORT_MAX_SESSIONS (0xc671706a).
// It fails a session with ERR_METHOD_NOT_SUPPORTED unless the server's SETTINGS carry 0x2b603742 = 1
// and one of the datagram settings, so serverSettings() sends those and the newer ones together.
import { H3Error, H3ErrorCode } from './errors.js';
import { concatBytes, decodeVarint, encodeVarint } from './varint.js';

/** Setting identifiers and values are 62-bit varints, so both are bigint. */
export type Settings = ReadonlyMap<bigint, bigint>;

export const SettingId = {
  /** RFC 9204 §5: dynamic table capacity; default 0. */
  QPACK_MAX_TABLE_CAPACITY: 0x01n,
  /** RFC 9114 §7.2.4.1: the largest field section the sender accepts; default unlimited. */
  MAX_FIELD_SECTION_SIZE: 0x06n,
  /** RFC 9204 §5: streams that may block on dynamic table updates; default 0. */
  QPACK_BLOCKED_STREAMS: 0x07n,
  /** RFC 9220 §3 (extended CONNECT in HTTP/3); values 0 or 1. */
  ENABLE_CONNECT_PROTOCOL: 0x08n,
  /** RFC 9297 §2.1.1; values 0 or 1. */
  H3_DATAGRAM: 0x33n,
  /** H3_DATAGRAM of draft-ietf-masque-h3-datagram-04 and later drafts, still sent by Chromium. */
  H3_DATAGRAM_DRAFT04: 0xffd277n,
  /** SETTINGS_ENABLE_WEBTRANSPORT of draft-ietf-webtrans-http3-02. */
  ENABLE_WEBTRANSPORT_DRAFT02: 0x2b603742n,
  /** SETTINGS_WEBTRANSPORT_MAX_SESSIONS of later drafts; a value above 0 announces support. */
  WEBTRANSPORT_MAX_SESSIONS: 0xc671706an,
} as const;

/** The WebTransport-related settings Chromium 156 sends (see the file header). */
export const CHROMIUM_156_WEBTRANSPORT_SETTINGS: Settings = new Map([
  [SettingId.ENABLE_WEBTRANSPORT_DRAFT02, 1n],
  [SettingId.H3_DATAGRAM, 1n],
  [SettingId.H3_DATAGRAM_DRAFT04, 1n],
]);

/**
 * Rejects values that the defining RFCs allow only as 0 or 1: ENABLE_CONNECT_PROTOCOL (RFC 9220
 * §3 with RFC 8441 §3) and H3_DATAGRAM (RFC 9297 §2.1.1). Both are H3_SETTINGS_ERROR. The draft
 * settings are not checked, so an odd value there only means "not enabled".
 */
export function checkSettingValues(settings: Settings): void {
  for (const id of [SettingId.ENABLE_CONNECT_PROTOCOL, SettingId.H3_DATAGRAM]) {
    const value = settings.get(id);
    if (value !== undefined && value !== 0n && value !== 1n) {
      throw new H3Error(H3ErrorCode.H3_SETTINGS_ERROR, `setting 0x${id.toString(16)} must be 0 or 1, got ${value}`);
    }
  }
}

export interface ServerSettingsOptions {
  /** WebTransport sessions one connection may carry, announced to newer browsers; default 1. */
  maxSessions?: number;
  /** SETTINGS_MAX_FIELD_SECTION_SIZE in bytes; omitted (unlimited) by default. */
  maxFieldSectionSize?: number;
}

/**
 * Returns the settings a WebTransport server sends: a QPACK dynamic table of capacity 0 (our
 * decoder supports only the static table), extended CONNECT, both datagram settings, and the
 * WebTransport setting of draft-02 and of later drafts.
 */
export function serverSettings(options: ServerSettingsOptions = {}): Map<bigint, bigint> {
  const maxSessions = options.maxSessions ?? 1;
  if (!Number.isSafeInteger(maxSessions) || maxSessions < 1) throw new RangeError(`maxSessions must be a positive integer, got ${maxSessions}`);
  const settings = new Map<bigint, bigint>([
    [SettingId.QPACK_MAX_TABLE_CAPACITY, 0n],
    [SettingId.QPACK_BLOCKED_STREAMS, 0n],
    [SettingId.ENABLE_CONNECT_PROTOCOL, 1n],
    [SettingId.H3_DATAGRAM, 1n],
    [SettingId.H3_DATAGRAM_DRAFT04, 1n],
    [SettingId.ENABLE_WEBTRANSPORT_DRAFT02, 1n],
    [SettingId.WEBTRANSPORT_MAX_SESSIONS, BigInt(maxSessions)],
  ]);
  if (options.maxFieldSectionSize !== undefined) settings.set(SettingId.MAX_FIELD_SECTION_SIZE, BigInt(options.maxFieldSectionSize));
  return settings;
}

export interface WebTransportSupport {
  supported: boolean;
  /** Announced with draft-02's SETTINGS_ENABLE_WEBTRANSPORT. */
  draft02: boolean;
  /** SETTINGS_WEBTRANSPORT_MAX_SESSIONS when sent. */
  maxSessions: bigint | undefined;
  datagrams: boolean;
  connectProtocol: boolean;
  /** What is missing when `supported` is false, for logs. */
  missing: string[];
}

/** Reads what a peer's SETTINGS announce about WebTransport. */
export function webTransportSupport(settings: Settings): WebTransportSupport {
  const draft02 = settings.get(SettingId.ENABLE_WEBTRANSPORT_DRAFT02) === 1n;
  const maxSessions = settings.get(SettingId.WEBTRANSPORT_MAX_SESSIONS);
  const datagrams = settings.get(SettingId.H3_DATAGRAM) === 1n || settings.get(SettingId.H3_DATAGRAM_DRAFT04) === 1n;
  const connectProtocol = settings.get(SettingId.ENABLE_CONNECT_PROTOCOL) === 1n;
  const missing: string[] = [];
  if (!draft02 && !(maxSessions !== undefined && maxSessions > 0n)) missing.push('ENABLE_WEBTRANSPORT (0x2b603742) or WEBTRANSPORT_MAX_SESSIONS (0xc671706a)');
  if (!datagrams) missing.push('H3_DATAGRAM (0x33 or 0xffd277)');
  return { supported: missing.length === 0, draft02, maxSessions, datagrams, connectProtocol, missing };
}

/**
 * True when the peer announced WebTransport (draft-02 or a later draft) and HTTP datagrams. Does
 * not require ENABLE_CONNECT_PROTOCOL, which clients such as Chromium 156 do not send.
 */
export function peerSupportsWebTransport(settings: Settings): boolean {
  return webTransportSupport(settings).supported;
}

/** Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2, draft-ietf-webtrans-http3). */
export const UniStreamType = {
  CONTROL: 0x00n,
  PUSH: 0x01n,
  QPACK_ENCODER: 0x02n,
  QPACK_DECODER: 0x03n,
  WEBTRANSPORT: 0x54n,
} as const;

/** First varint of a WebTransport bidirectional stream, where a request stream has a frame type. */
export const WEBTRANSPORT_BIDI_SIGNAL = 0x41n;

export type UniStreamPrefix =
  | { kind: 'control' | 'push' | 'qpack-encoder' | 'qpack-decoder'; length: number }
  | { kind: 'webtransport'; sessionId: number; length: number }
  /** Unknown and GREASE types: RFC 9114 §6.2 says to stop reading such a stream, not to fail. */
  | { kind: 'unknown'; streamType: bigint; length: number };

export type BidiStreamPrefix =
  | { kind: 'webtransport'; sessionId: number; length: number }
  /** An HTTP/3 request stream; nothing is consumed, the frame parser reads from the start. */
  | { kind: 'request'; length: 0 };

/** Checks a WebTransport session id: the id of a client-initiated bidirectional stream (id % 4 = 0). */
function sessionIdFrom(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value % 4n !== 0n) {
    throw new H3Error(H3ErrorCode.H3_ID_ERROR, `WebTransport session id ${value} is not a client-initiated bidirectional stream id`);
  }
  return Number(value);
}

function checkedSessionId(sessionId: number): number {
  if (!Number.isSafeInteger(sessionId) || sessionId < 0 || sessionId % 4 !== 0) {
    throw new H3Error(H3ErrorCode.H3_ID_ERROR, `session id ${sessionId} is not a client-initiated bidirectional stream id`);
  }
  return sessionId;
}

/**
 * Parses the type at the start of a unidirectional stream, and for WebTransport streams the session
 * id after it. Returns null until enough bytes have arrived.
 */
export function parseUniStreamPrefix(bytes: Uint8Array): UniStreamPrefix | null {
  const type = decodeVarint(bytes, 0);
  if (!type) return null;
  switch (type.value) {
    case UniStreamType.CONTROL:
      return { kind: 'control', length: type.length };
    case UniStreamType.PUSH:
      return { kind: 'push', length: type.length };
    case UniStreamType.QPACK_ENCODER:
      return { kind: 'qpack-encoder', length: type.length };
    case UniStreamType.QPACK_DECODER:
      return { kind: 'qpack-decoder', length: type.length };
    case UniStreamType.WEBTRANSPORT: {
      const session = decodeVarint(bytes, type.length);
      if (!session) return null;
      return { kind: 'webtransport', sessionId: sessionIdFrom(session.value), length: type.length + session.length };
    }
    default:
      return { kind: 'unknown', streamType: type.value, length: type.length };
  }
}

/** Parses the start of a client-initiated bidirectional stream. Returns null until enough bytes have arrived. */
export function parseBidiStreamPrefix(bytes: Uint8Array): BidiStreamPrefix | null {
  const first = decodeVarint(bytes, 0);
  if (!first) return null;
  if (first.value !== WEBTRANSPORT_BIDI_SIGNAL) return { kind: 'request', length: 0 };
  const session = decodeVarint(bytes, first.length);
  if (!session) return null;
  return { kind: 'webtransport', sessionId: sessionIdFrom(session.value), length: first.length + session.length };
}

export function encodeUniStreamType(type: bigint): Uint8Array {
  return encodeVarint(type);
}

/** Prefix of a WebTransport unidirectional stream: 0x54, then the session id. */
export function encodeWebTransportUniPrefix(sessionId: number): Uint8Array {
  return concatBytes([encodeVarint(UniStreamType.WEBTRANSPORT), encodeVarint(checkedSessionId(sessionId))]);
}

/** Prefix of a WebTransport bidirectional stream: 0x41, then the session id. */
export function encodeWebTransportBidiPrefix(sessionId: number): Uint8Array {
  return concatBytes([encodeVarint(WEBTRANSPORT_BIDI_SIGNAL), encodeVarint(checkedSessionId(sessionId))]);
}

/** Largest Quarter Stream ID, because stream ids stop at 2^62-1 (RFC 9297 §2.1). */
const MAX_QUARTER_STREAM_ID = (1n << 60n) - 1n;

/** An HTTP/3 datagram (RFC 9297 §2.1): Quarter Stream ID = session id / 4, then the payload. */
export function encodeDatagram(sessionId: number, payload: Uint8Array): Uint8Array {
  const prefix = encodeVarint(checkedSessionId(sessionId) / 4);
  return concatBytes([prefix, payload]);
}

/**
 * Parses a QUIC DATAGRAM payload into session id and payload. A missing or too-large Quarter Stream
 * ID is H3_DATAGRAM_ERROR (RFC 9297 §2.1). Returns null for a stream id above 2^53-1: no such
 * stream can exist here, and §2.1 lets a receiver drop datagrams for streams it does not have.
 */
export function parseDatagram(bytes: Uint8Array): { sessionId: number; payload: Uint8Array } | null {
  const quarter = decodeVarint(bytes, 0);
  if (!quarter) throw new H3Error(H3ErrorCode.H3_DATAGRAM_ERROR, 'datagram ends inside its Quarter Stream ID');
  if (quarter.value > MAX_QUARTER_STREAM_ID) throw new H3Error(H3ErrorCode.H3_DATAGRAM_ERROR, `Quarter Stream ID ${quarter.value} exceeds 2^60-1`);
  const streamId = quarter.value * 4n;
  if (streamId > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return { sessionId: Number(streamId), payload: bytes.subarray(quarter.length) };
}
