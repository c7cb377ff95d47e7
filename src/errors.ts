// One errors module for the whole project: every error pushlab raises is a PushlabError with a
// machine-readable `code`, and protocol errors also carry the wire close code they map to.
import { CloseCode } from './codec/proto.js';

export type ErrorCode =
  | 'FRAME_TOO_LARGE'
  | 'PROTOCOL_ERROR'
  | 'AUTH_FAILED'
  | 'CONFIG_INVALID'
  | 'TRANSPORT_UNKNOWN'
  | 'TRANSPORT_FAILED'
  | 'CONNECT_TIMEOUT'
  | 'CONNECTION_CLOSED'
  | 'MESSAGE_TOO_LARGE'
  | 'PUBLISH_REJECTED'
  | 'NOT_CONNECTED'
  | 'TRACE_INVALID'
  | 'EMULATOR_FAILED'
  | 'EXPERIMENT_FAILED'
  | 'INTERNAL';

export interface PushlabErrorOptions {
  cause?: unknown;
  closeCode?: CloseCode;
}

export class PushlabError extends Error {
  override readonly name: string = 'PushlabError';
  readonly code: ErrorCode;
  /** The close code a session ends with when this error ends it. */
  readonly closeCode: CloseCode;

  constructor(code: ErrorCode, message: string, options: PushlabErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.closeCode = options.closeCode ?? CloseCode.INTERNAL_ERROR;
  }
}

/** A declared frame length above the receiver's maximum; raised from the length prefix alone. */
export class FrameTooLargeError extends PushlabError {
  override readonly name = 'FrameTooLargeError';
  constructor(
    readonly declaredLength: number,
    readonly maxFrameSize: number,
  ) {
    super('FRAME_TOO_LARGE', `frame of ${declaredLength} bytes exceeds the maximum frame size of ${maxFrameSize} bytes`, {
      closeCode: CloseCode.FRAME_TOO_LARGE,
    });
  }
}

/** Bytes that do not decode as a Frame, or a frame that breaks the protocol state machine. */
export class ProtocolError extends PushlabError {
  override readonly name = 'ProtocolError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('PROTOCOL_ERROR', message, { ...options, closeCode: CloseCode.PROTOCOL_ERROR });
  }
}

export class AuthError extends PushlabError {
  override readonly name = 'AuthError';
  constructor(message: string) {
    super('AUTH_FAILED', message, { closeCode: CloseCode.AUTH_FAILED });
  }
}

export class ConfigError extends PushlabError {
  override readonly name = 'ConfigError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('CONFIG_INVALID', message, options);
  }
}

export class TransportError extends PushlabError {
  override readonly name = 'TransportError';
  constructor(code: 'TRANSPORT_FAILED' | 'TRANSPORT_UNKNOWN' | 'CONNECT_TIMEOUT', message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
  }
}

/** The peer (or this end) closed the session; `closeCode` says why. */
export class ConnectionClosedError extends PushlabError {
  override readonly name = 'ConnectionClosedError';
  constructor(closeCode: CloseCode, reason: string) {
    super('CONNECTION_CLOSED', `connection closed with ${CloseCode[closeCode] ?? closeCode}${reason ? `: ${reason}` : ''}`, { closeCode });
  }
}

/** A message the gateway or the client will not send because of its size; reported, never retried. */
export class MessageTooLargeError extends PushlabError {
  override readonly name = 'MessageTooLargeError';
  constructor(size: number, limit: number) {
    super('MESSAGE_TOO_LARGE', `message of ${size} bytes exceeds the limit of ${limit} bytes`, { closeCode: CloseCode.MESSAGE_TOO_LARGE });
  }
}

/** Normalises anything thrown into an Error so it can be logged and passed on as `cause`. */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
