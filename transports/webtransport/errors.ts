// Error types and code spaces of the WebTransport layer above the HTTP/3 codecs.
import { PushlabError } from '../../src/errors.js';
import { H3ErrorCode, h3ErrorName } from './h3/errors.js';

/**
 * CLOSE_WEBTRANSPORT_SESSION codes that pushlab sends (docs/WEBTRANSPORT.md, "Frame contract").
 * The session-level reason travels earlier in a pushlab Close frame. These codes only record how the
 * WebTransport session itself ended.
 */
export const SessionCloseCode = {
  /** Both sides ended the pushlab stream. */
  NORMAL: 0,
  /** destroy() without flushing. */
  DESTROYED: 1,
  /** The server shut down and the session did not close within the grace period. */
  GOING_AWAY: 2,
  /** The pushlab stream was reset by the peer or hit a framing error. */
  STREAM_FAILED: 3,
} as const;

/**
 * WebTransport application error codes travel in RESET_STREAM and STOP_SENDING as HTTP/3 error
 * codes from 0x52e4a40fa8db upwards, skipping the reserved GREASE values (draft-ietf-webtrans-http3,
 * "Resetting Data Streams"): code = first + n + floor(n / 0x1e).
 */
const WEBTRANSPORT_CODE_FIRST = 0x52e4a40fa8dbn;
const WEBTRANSPORT_CODE_LAST = WEBTRANSPORT_CODE_FIRST + 0xffffffffn + 0xffffffffn / 0x1en;

export function webTransportCodeToHttp3(code: number): bigint {
  if (!Number.isInteger(code) || code < 0 || code > 0xffffffff) throw new RangeError(`WebTransport error code must be a 32-bit unsigned integer, got ${code}`);
  const n = BigInt(code);
  return WEBTRANSPORT_CODE_FIRST + n + n / 0x1en;
}

/** Reverses webTransportCodeToHttp3; null for codes outside the range or on a GREASE value. */
export function http3CodeToWebTransport(code: bigint): number | null {
  if (code < WEBTRANSPORT_CODE_FIRST || code > WEBTRANSPORT_CODE_LAST) return null;
  const shifted = code - WEBTRANSPORT_CODE_FIRST;
  // Every 0x1f-th value of the range is a GREASE value that maps to no WebTransport code.
  if ((code - 0x21n) % 0x1fn === 0n) return null;
  return Number(shifted - shifted / 0x1fn);
}

/** Describes an HTTP/3 or WebTransport application error code for messages. */
export function describeApplicationCode(code: number | bigint): string {
  const big = BigInt(code);
  const webTransport = http3CodeToWebTransport(big);
  if (webTransport !== null) return `WebTransport code ${webTransport}`;
  if (big <= BigInt(Number.MAX_SAFE_INTEGER)) return h3ErrorName(Number(big));
  return `0x${big.toString(16)}`;
}

/**
 * The reason handed to QUICStream.cancel(): @matrixai/quic turns it into the RESET_STREAM and
 * STOP_SENDING code through the reasonToCode callback (see streamReasonToCode).
 */
export class StreamAbort extends Error {
  override readonly name = 'StreamAbort';
  constructor(
    readonly applicationCode: number | bigint,
    message: string,
  ) {
    super(message);
  }
}

/** A peer reset or stopped one of our streams; `applicationCode` is the code it sent. */
export class StreamResetError extends PushlabError {
  override readonly name = 'StreamResetError';
  constructor(
    readonly direction: 'read' | 'write',
    readonly applicationCode: number | bigint,
  ) {
    super('TRANSPORT_FAILED', `HTTP/3 stream ${direction === 'read' ? 'reset' : 'stopped'} by the peer with ${describeApplicationCode(applicationCode)}`);
  }
}

/** The WebTransport session ended abnormally: a non-zero close code, a reset CONNECT stream or a lost connection. */
export class SessionClosedError extends PushlabError {
  override readonly name = 'SessionClosedError';
  constructor(
    readonly sessionCode: number | null,
    readonly reason: string,
    options: { cause?: unknown } = {},
  ) {
    super('TRANSPORT_FAILED', sessionCode === null ? `WebTransport session ended: ${reason}` : `WebTransport session closed with code ${sessionCode}${reason ? `: ${reason}` : ''}`, options);
  }
}

/** The server responded to the extended CONNECT with a status other than 2xx. */
export class SessionRejectedError extends PushlabError {
  override readonly name = 'SessionRejectedError';
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super('TRANSPORT_FAILED', `WebTransport session rejected with status ${status}: ${detail}`);
  }
}

/** Maps the reason given to QUICStream.cancel() to the code sent to the peer. */
export function streamReasonToCode(_type: 'read' | 'write', reason?: unknown): number {
  if (reason instanceof StreamAbort) return clampCode(reason.applicationCode);
  if (reason instanceof Error && 'h3Code' in reason && typeof reason.h3Code === 'number') return reason.h3Code;
  return H3ErrorCode.H3_NO_ERROR;
}

/** Maps a peer's RESET_STREAM ('read') or STOP_SENDING ('write') code to the error the stream fails with. */
export function streamCodeToReason(type: 'read' | 'write', code: number | bigint): Error {
  return new StreamResetError(type, code);
}

/**
 * @matrixai/quic 2.0.9 types stream codes as numbers. Codes above 2^53 (the WebTransport range
 * starts at about 2^46, so all of it fits) would lose precision; they are capped instead.
 */
function clampCode(code: number | bigint): number {
  const big = BigInt(code);
  return big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
}
