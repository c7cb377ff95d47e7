// Small helpers shared by the WebTransport codec tests.
import { H3Error, type H3ErrorCode } from '../../transports/webtransport/h3/errors.js';

export function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function ascii(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, 'latin1'));
}

/** Runs `action` and returns the H3Error it throws; fails the test on anything else. */
export function catchH3(action: () => unknown): H3Error {
  try {
    action();
  } catch (error) {
    if (error instanceof H3Error) return error;
    throw new Error(`expected an H3Error, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected an H3Error, but nothing was thrown');
}

export function expectH3Code(action: () => unknown, code: H3ErrorCode): H3Error {
  const error = catchH3(action);
  if (error.h3Code !== code) throw new Error(`expected H3 code 0x${code.toString(16)}, got 0x${error.h3Code.toString(16)}: ${error.message}`);
  return error;
}
