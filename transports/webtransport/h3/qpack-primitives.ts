// The two primitives of QPACK field lines: prefixed integers (RFC 7541 §5.1, reused by RFC 9204
// §4.1.1) and string literals with an optional Huffman flag (RFC 7541 §5.2, RFC 9204 §4.1.2).
import { H3Error, H3ErrorCode } from './errors.js';
import { decodeHuffman, encodeHuffman, huffmanEncodedLength } from './huffman.js';

/**
 * Continuation bytes accepted after the prefix. 7 bytes carry 49 bits, which covers every length
 * and index a field section can hold; longer encodings are "excessively large" (RFC 7541 §5.1).
 */
const MAX_CONTINUATION_BYTES = 7;

export interface DecodedInt {
  value: number;
  /** Bytes consumed, the prefix byte included. */
  length: number;
}

/**
 * Decodes an integer whose first `prefixBits` (1-8) bits sit in the low bits of bytes[offset].
 * Returns null when the input ends first; throws H3Error `errorCode` when the encoding is longer
 * than this decoder accepts.
 */
export function decodePrefixedInt(
  bytes: Uint8Array,
  offset: number,
  prefixBits: number,
  errorCode: H3ErrorCode = H3ErrorCode.QPACK_DECOMPRESSION_FAILED,
): DecodedInt | null {
  if (offset >= bytes.length) return null;
  const max = (1 << prefixBits) - 1;
  const first = bytes[offset]! & max;
  if (first < max) return { value: first, length: 1 };

  let value = max;
  let multiplier = 1;
  for (let i = 1; i <= MAX_CONTINUATION_BYTES; i++) {
    if (offset + i >= bytes.length) return null;
    const byte = bytes[offset + i]!;
    value += (byte & 0x7f) * multiplier;
    multiplier *= 128;
    if ((byte & 0x80) === 0) return { value, length: i + 1 };
  }
  throw new H3Error(errorCode, `prefixed integer longer than ${MAX_CONTINUATION_BYTES + 1} bytes`);
}

/**
 * Encodes `value` with an N-bit prefix; `flags` fills the bits above the prefix in the first byte.
 * Throws RangeError for a negative or unsafe value, a caller bug.
 */
export function encodePrefixedInt(value: number, prefixBits: number, flags = 0): number[] {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`prefixed integer must be a non-negative safe integer, got ${value}`);
  const max = (1 << prefixBits) - 1;
  if (value < max) return [flags | value];
  const out = [flags | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

export interface DecodedString {
  bytes: Uint8Array;
  /** Bytes consumed, the length prefix included. */
  length: number;
}

/**
 * Decodes a string literal whose Huffman flag is bit `prefixBits` of the first byte and whose
 * length is a `prefixBits`-bit prefixed integer (7 for values and literal names in QPACK, 3 for a
 * literal name in a "literal field line with literal name"). Unlike the integer decoder, a string
 * cut short throws, because a field section arrives whole in one HEADERS frame.
 */
export function decodeStringLiteral(bytes: Uint8Array, offset: number, prefixBits: number): DecodedString {
  const huffman = offset < bytes.length && (bytes[offset]! & (1 << prefixBits)) !== 0;
  const size = decodePrefixedInt(bytes, offset, prefixBits);
  if (!size) throw new H3Error(H3ErrorCode.QPACK_DECOMPRESSION_FAILED, 'field section ends inside a string length');
  const start = offset + size.length;
  if (size.value > bytes.length - start) {
    throw new H3Error(H3ErrorCode.QPACK_DECOMPRESSION_FAILED, `string of ${size.value} bytes runs past the end of the field section`);
  }
  const raw = bytes.subarray(start, start + size.value);
  return { bytes: huffman ? decodeHuffman(raw) : raw, length: size.length + size.value };
}

export type HuffmanMode = 'auto' | 'always' | 'never';

/**
 * Encodes a string literal with an N-bit length prefix; the Huffman flag is bit N and `flags`
 * fills the bits above it. 'auto' uses Huffman only when it is shorter.
 */
export function encodeStringLiteral(value: Uint8Array, prefixBits: number, flags = 0, huffman: HuffmanMode = 'auto'): number[] {
  const useHuffman = huffman === 'always' || (huffman === 'auto' && huffmanEncodedLength(value) < value.length);
  const body = useHuffman ? encodeHuffman(value) : value;
  const head = encodePrefixedInt(body.length, prefixBits, flags | (useHuffman ? 1 << prefixBits : 0));
  const out = head;
  for (const byte of body) out.push(byte);
  return out;
}
