import { describe, expect, it } from 'vitest';
import { VarintRangeError } from '../../transports/webtransport/h3/errors.js';
import { MAX_VARINT, decodeVarint, decodeVarintNumber, encodeVarint, varintLength, writeVarint } from '../../transports/webtransport/h3/varint.js';
import { hex, toHex } from './helpers.js';

// RFC 9000 Appendix A.1 sample encodings.
const RFC_SAMPLES: Array<[string, bigint, number]> = [
  ['c2197c5eff14e88c', 151288809941952652n, 8],
  ['9d7f3e7d', 494878333n, 4],
  ['7bbd', 15293n, 2],
  ['25', 37n, 1],
  ['4025', 37n, 2],
];

describe('varint', () => {
  it.each(RFC_SAMPLES)('decodes RFC 9000 sample %s', (encoded, value, length) => {
    expect(decodeVarint(hex(encoded))).toEqual({ value, length });
  });

  it('encodes RFC 9000 samples in the smallest form', () => {
    expect(toHex(encodeVarint(151288809941952652n))).toBe('c2197c5eff14e88c');
    expect(toHex(encodeVarint(494878333))).toBe('9d7f3e7d');
    expect(toHex(encodeVarint(15293))).toBe('7bbd');
    expect(toHex(encodeVarint(37))).toBe('25');
  });

  it('encodes with a forced length', () => {
    expect(toHex(encodeVarint(37, 2))).toBe('4025');
    expect(toHex(encodeVarint(37, 4))).toBe('80000025');
    expect(toHex(encodeVarint(37, 8))).toBe('c000000000000025');
  });

  it('switches length at each boundary', () => {
    const boundaries: Array<[number | bigint, number]> = [
      [0, 1], [63, 1], [64, 2], [16383, 2], [16384, 4], [1073741823, 4], [1073741824, 8], [MAX_VARINT, 8],
    ];
    for (const [value, length] of boundaries) {
      expect(varintLength(value)).toBe(length);
      const encoded = encodeVarint(value);
      expect(encoded.length).toBe(length);
      expect(decodeVarint(encoded)?.value).toBe(BigInt(value));
    }
  });

  it('rejects values outside 0..2^62-1 when encoding', () => {
    expect(() => encodeVarint(-1)).toThrow(VarintRangeError);
    expect(() => encodeVarint(MAX_VARINT + 1n)).toThrow(VarintRangeError);
    expect(() => encodeVarint(2 ** 53)).toThrow(VarintRangeError);
    expect(() => encodeVarint(1.5)).toThrow(VarintRangeError);
    expect(() => encodeVarint(64, 1)).toThrow(VarintRangeError);
    expect(() => encodeVarint(16384, 2)).toThrow(VarintRangeError);
  });

  it('returns null on every incomplete prefix', () => {
    const encoded = hex('c2197c5eff14e88c');
    for (let cut = 0; cut < encoded.length; cut++) {
      expect(decodeVarint(encoded.subarray(0, cut))).toBeNull();
      expect(decodeVarintNumber(encoded.subarray(0, cut))).toBeNull();
    }
  });

  it('decodes at an offset', () => {
    const bytes = hex('ff 7bbd 25');
    expect(decodeVarint(bytes, 1)).toEqual({ value: 15293n, length: 2 });
    expect(decodeVarint(bytes, 3)).toEqual({ value: 37n, length: 1 });
    expect(decodeVarint(bytes, 4)).toBeNull();
  });

  it('decodes numbers and flags unsafe values', () => {
    expect(decodeVarintNumber(hex('9d7f3e7d'))).toEqual({ value: 494878333, length: 4 });
    const safeMax = encodeVarint(Number.MAX_SAFE_INTEGER);
    expect(decodeVarintNumber(safeMax)).toEqual({ value: Number.MAX_SAFE_INTEGER, length: 8 });
    expect(decodeVarintNumber(hex('c2197c5eff14e88c'))).toEqual({ value: 151288809941952652n, length: 8, unsafe: true });
  });

  it('writes into a buffer at an offset', () => {
    const target = new Uint8Array(6);
    expect(writeVarint(target, 1, 15293)).toBe(2);
    expect(writeVarint(target, 3, 37, 2)).toBe(2);
    expect(toHex(target)).toBe('007bbd402500');
    expect(() => writeVarint(target, 5, 494878333)).toThrow(RangeError);
  });

  it('round-trips number and bigint forms alike', () => {
    for (const value of [0, 1, 63, 64, 300, 70000, 2 ** 31, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER]) {
      expect(encodeVarint(value)).toEqual(encodeVarint(BigInt(value)));
      expect(decodeVarintNumber(encodeVarint(value))?.value).toBe(value);
    }
  });
});
