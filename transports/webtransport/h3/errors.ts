// Errors of the HTTP/3 codec layer. Every wire problem found while decoding is an H3Error that
// carries the application error code the connection or stream must be closed with, so the layer
// above can pass `h3Code` straight to CONNECTION_CLOSE or RESET_STREAM.
import { CloseCode } from '../../../src/codec/proto.js';
import { PushlabError } from '../../../src/errors.js';

/**
 * HTTP/3 error codes (RFC 9114 §8.1), QPACK error codes (RFC 9204 §6) and the datagram error code
 * (RFC 9297 §2.1, registered in §5.2 as "Datagram or Capsule Protocol parse error").
 */
export const H3ErrorCode = {
  H3_NO_ERROR: 0x100,
  H3_GENERAL_PROTOCOL_ERROR: 0x101,
  H3_INTERNAL_ERROR: 0x102,
  H3_STREAM_CREATION_ERROR: 0x103,
  H3_CLOSED_CRITICAL_STREAM: 0x104,
  H3_FRAME_UNEXPECTED: 0x105,
  H3_FRAME_ERROR: 0x106,
  H3_EXCESSIVE_LOAD: 0x107,
  H3_ID_ERROR: 0x108,
  H3_SETTINGS_ERROR: 0x109,
  H3_MISSING_SETTINGS: 0x10a,
  H3_REQUEST_REJECTED: 0x10b,
  H3_REQUEST_CANCELLED: 0x10c,
  H3_REQUEST_INCOMPLETE: 0x10d,
  H3_MESSAGE_ERROR: 0x10e,
  H3_CONNECT_ERROR: 0x10f,
  H3_VERSION_FALLBACK: 0x110,
  QPACK_DECOMPRESSION_FAILED: 0x200,
  QPACK_ENCODER_STREAM_ERROR: 0x201,
  QPACK_DECODER_STREAM_ERROR: 0x202,
  H3_DATAGRAM_ERROR: 0x33,
} as const;

export type H3ErrorCode = (typeof H3ErrorCode)[keyof typeof H3ErrorCode];

const CODE_NAMES = new Map<number, string>(Object.entries(H3ErrorCode).map(([name, code]) => [code, name]));

/** Returns the registered name of an HTTP/3 error code, or its hex form when it is not one of ours. */
export function h3ErrorName(code: number): string {
  return CODE_NAMES.get(code) ?? `0x${code.toString(16)}`;
}

/** A peer broke HTTP/3, QPACK, the capsule protocol or WebTransport framing. */
export class H3Error extends PushlabError {
  override readonly name = 'H3Error';

  constructor(
    /** The HTTP/3 application error code to close the connection or stream with. */
    readonly h3Code: H3ErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super('PROTOCOL_ERROR', `${h3ErrorName(h3Code)}: ${message}`, { ...options, closeCode: CloseCode.PROTOCOL_ERROR });
  }
}

/** A value that a QUIC variable-length integer cannot carry; raised by encoders, a caller bug. */
export class VarintRangeError extends PushlabError {
  override readonly name = 'VarintRangeError';

  constructor(readonly value: number | bigint, detail: string) {
    super('INTERNAL', `cannot encode ${String(value)} as a QUIC varint: ${detail}`);
  }
}
