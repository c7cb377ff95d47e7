// QUIC variable-length integers (RFC 9000 §16), the integer encoding of every HTTP/3 frame header,
// setting, stream type, capsule and datagram prefix.
//
// The two most significant bits of the first byte give the length (00 = 1, 01 = 2, 10 = 4,
// 11 = 8 bytes); the remaining 6, 14, 30 or 62 bits carry the value in network byte order, so the
// largest value is 2^62-1.
//
// Values are bigint on decode because identifiers (frame types, setting ids, GREASE values, the
// GOAWAY id) use the full 62 bits and a JavaScript number loses precision above 2^53-1.
// decodeVarintNumber is the fast path for lengths and stream ids, where a value above
// Number.MAX_SAFE_INTEGER can never be valid; it returns such values as `unsafe` instead of a
// rounded number. Encoders take either a number (checked to be a safe integer) or a bigint.
import { VarintRangeError } from './errors.js';

export type VarintLength = 1 | 2 | 4 | 8;

/** 2^62-1, the largest value a QUIC varint carries (RFC 9000 §16). */
export const MAX_VARINT = (1n << 62n) - 1n;

/** The longest encoding, in bytes. */
export const MAX_VARINT_LENGTH = 8;

export interface DecodedVarint<T> {
  value: T;
  /** Bytes consumed. */
  length: VarintLength;
}

const LENGTH_BY_PREFIX: readonly VarintLength[] = [1, 2, 4, 8];
const LIMITS: Record<VarintLength, bigint> = { 1: 63n, 2: 16383n, 4: 1073741823n, 8: MAX_VARINT };
const PREFIX_BITS: Record<VarintLength, number> = { 1: 0x00, 2: 0x40, 4: 0x80, 8: 0xc0 };

function toBigInt(value: number | bigint): bigint {
  if (typeof value === 'bigint') {
    if (value < 0n || value > MAX_VARINT) throw new VarintRangeError(value, 'outside 0..2^62-1');
    return value;
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new VarintRangeError(value, 'a number must be a non-negative safe integer; pass a bigint for values above 2^53-1');
  }
  return BigInt(value);
}

/** Returns the smallest encoded length for `value`. Throws VarintRangeError outside 0..2^62-1. */
export function varintLength(value: number | bigint): VarintLength {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
    if (value <= 63) return 1;
    if (value <= 16383) return 2;
    if (value <= 1073741823) return 4;
    return 8;
  }
  const big = toBigInt(value);
  if (big <= LIMITS[1]) return 1;
  if (big <= LIMITS[2]) return 2;
  if (big <= LIMITS[4]) return 4;
  return 8;
}

/**
 * Writes `value` at `offset` and returns the number of bytes written. `length` forces a longer
 * form than the smallest (RFC 9000 §16 allows any form that fits). Throws VarintRangeError when the
 * value is out of range or does not fit the forced length, and RangeError when `target` is too short.
 */
export function writeVarint(target: Uint8Array, offset: number, value: number | bigint, length?: VarintLength): VarintLength {
  const big = toBigInt(value);
  const size = length ?? varintLength(big);
  if (LIMITS[size] === undefined) throw new VarintRangeError(value, `forced length must be 1, 2, 4 or 8, got ${String(length)}`);
  if (big > LIMITS[size]) throw new VarintRangeError(value, `does not fit in ${size} bytes`);
  if (offset < 0 || offset + size > target.length) throw new RangeError(`no room for a ${size}-byte varint at offset ${offset}`);

  let rest = big;
  for (let i = size - 1; i >= 0; i--) {
    target[offset + i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  target[offset] = target[offset]! | PREFIX_BITS[size];
  return size;
}

/** Encodes `value` in the smallest form, or in `length` bytes when given. */
export function encodeVarint(value: number | bigint, length?: VarintLength): Uint8Array {
  const size = length ?? varintLength(value);
  const out = new Uint8Array(size);
  writeVarint(out, 0, value, size);
  return out;
}

/**
 * Decodes the varint at `offset`. Returns null when `bytes` ends before the varint does; never
 * throws on incomplete input.
 */
export function decodeVarint(bytes: Uint8Array, offset = 0): DecodedVarint<bigint> | null {
  if (offset >= bytes.length) return null;
  const length = LENGTH_BY_PREFIX[bytes[offset]! >> 6]!;
  if (offset + length > bytes.length) return null;
  let value = BigInt(bytes[offset]! & 0x3f);
  for (let i = 1; i < length; i++) value = (value << 8n) | BigInt(bytes[offset + i]!);
  return { value, length };
}

/** The result of decodeVarintNumber: a safe number, or a flag for a value a number cannot hold. */
export type DecodedVarintNumber = (DecodedVarint<number> & { unsafe?: false }) | { value: bigint; length: 8; unsafe: true };

/**
 * Decodes the varint at `offset` as a number. A value above Number.MAX_SAFE_INTEGER comes back as
 * a bigint with `unsafe: true`, so callers reject it instead of using a rounded value. Returns null
 * on incomplete input.
 */
export function decodeVarintNumber(bytes: Uint8Array, offset = 0): DecodedVarintNumber | null {
  if (offset >= bytes.length) return null;
  const first = bytes[offset]!;
  const length = LENGTH_BY_PREFIX[first >> 6]!;
  if (offset + length > bytes.length) return null;
  switch (length) {
    case 1:
      return { value: first & 0x3f, length };
    case 2:
      return { value: ((first & 0x3f) << 8) | bytes[offset + 1]!, length };
    case 4:
      return { value: (((first & 0x3f) << 24) >>> 0) + (bytes[offset + 1]! << 16) + (bytes[offset + 2]! << 8) + bytes[offset + 3]!, length };
    default: {
      const high = ((((first & 0x3f) << 24) >>> 0) + (bytes[offset + 1]! << 16) + (bytes[offset + 2]! << 8) + bytes[offset + 3]!);
      const low = ((bytes[offset + 4]! << 24) >>> 0) + (bytes[offset + 5]! << 16) + (bytes[offset + 6]! << 8) + bytes[offset + 7]!;
      // 2^53 = 2^21 * 2^32: a high word below 2^21 keeps the sum exact.
      if (high < 0x200000) return { value: high * 0x100000000 + low, length: 8 };
      return { value: (BigInt(high) << 32n) | BigInt(low), length: 8, unsafe: true };
    }
  }
}

/** Joins byte arrays; used by encoders that assemble a frame from its parts. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
