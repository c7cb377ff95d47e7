import { describe, expect, it } from 'vitest';
import { H3ErrorCode } from '../../transports/webtransport/h3/errors.js';
import { EOS, HUFFMAN_CODES, decodeHuffman, encodeHuffman, huffmanEncodedLength } from '../../transports/webtransport/h3/huffman.js';
import { decodePrefixedInt, decodeStringLiteral } from '../../transports/webtransport/h3/qpack-primitives.js';
import { seededRandom } from '../../src/random.js';
import { ascii, expectH3Code, hex, toHex } from './helpers.js';

/**
 * The header blocks of RFC 7541 Appendix C.4 (requests) and C.6 (responses) that use Huffman
 * coding, with the strings their literals carry, in order.
 */
const RFC_BLOCKS: Array<{ name: string; block: string; strings: string[] }> = [
  { name: 'C.4.1', block: '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', strings: ['www.example.com'] },
  { name: 'C.4.2', block: '8286 84be 5886 a8eb 1064 9cbf', strings: ['no-cache'] },
  { name: 'C.4.3', block: '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf', strings: ['custom-key', 'custom-value'] },
  {
    name: 'C.6.1',
    block: `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
            2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
    strings: ['302', 'private', 'Mon, 21 Oct 2013 20:13:21 GMT', 'https://www.example.com'],
  },
  { name: 'C.6.2', block: '4883 640e ffc1 c0bf', strings: ['307'] },
  {
    name: 'C.6.3',
    block: `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
            77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
            9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
    strings: ['Mon, 21 Oct 2013 20:13:22 GMT', 'gzip', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
  },
];

/** Walks an HPACK header block (RFC 7541 §6) and returns the raw bytes of each Huffman-coded literal. */
function huffmanLiterals(block: Uint8Array): Uint8Array[] {
  const literals: Uint8Array[] = [];
  let offset = 0;
  const readString = (): void => {
    const huffman = (block[offset]! & 0x80) !== 0;
    const length = decodePrefixedInt(block, offset, 7)!;
    const raw = block.subarray(offset + length.length, offset + length.length + length.value);
    if (huffman) literals.push(raw);
    offset += length.length + length.value;
  };
  while (offset < block.length) {
    const first = block[offset]!;
    if (first & 0x80) {
      offset += decodePrefixedInt(block, offset, 7)!.length;
      continue;
    }
    const prefix = first & 0x40 ? 6 : 4;
    const index = decodePrefixedInt(block, offset, prefix)!;
    offset += index.length;
    if (index.value === 0) readString();
    readString();
  }
  return literals;
}

describe('huffman', () => {
  it('has 257 codes forming a complete canonical code', () => {
    expect(HUFFMAN_CODES).toHaveLength(257);
    // Kraft sum over 2^-bits is exactly 1 for a complete prefix code; scaled by 2^30 to stay integral.
    const kraft = HUFFMAN_CODES.reduce((sum, [, bits]) => sum + 2 ** (30 - bits), 0);
    expect(kraft).toBe(2 ** 30);
    // Canonical: ordered by (length, symbol), each code is the previous plus one, shifted to its length.
    const order = HUFFMAN_CODES.map((entry, symbol) => ({ code: entry[0], bits: entry[1], symbol }))
      .sort((a, b) => a.bits - b.bits || a.symbol - b.symbol);
    let expected = 0;
    order.forEach((entry, i) => {
      if (i > 0) expected = (expected + 1) * 2 ** (entry.bits - order[i - 1]!.bits);
      expect(entry.code, `code of symbol ${entry.symbol}`).toBe(expected);
    });
    expect(HUFFMAN_CODES[EOS]).toEqual([0x3fffffff, 30]);
  });

  for (const { name, block, strings } of RFC_BLOCKS) {
    it(`decodes and re-encodes RFC 7541 ${name}`, () => {
      const literals = huffmanLiterals(hex(block));
      expect(literals.map((raw) => Buffer.from(decodeHuffman(raw)).toString('latin1'))).toEqual(strings);
      literals.forEach((raw, i) => {
        expect(toHex(encodeHuffman(ascii(strings[i]!)))).toBe(toHex(raw));
        expect(huffmanEncodedLength(ascii(strings[i]!))).toBe(raw.length);
      });
    });
  }

  it('reads RFC 7541 C.4.1 through the string literal decoder', () => {
    const block = hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff');
    const literal = decodeStringLiteral(block, 4, 7);
    expect(Buffer.from(literal.bytes).toString()).toBe('www.example.com');
    expect(literal.length).toBe(13);
  });

  it('round-trips every byte value', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(decodeHuffman(encodeHuffman(all))).toEqual(all);
    for (let byte = 0; byte < 256; byte++) {
      const single = Uint8Array.of(byte);
      expect(decodeHuffman(encodeHuffman(single))).toEqual(single);
    }
  });

  it('round-trips seeded random strings', () => {
    const random = seededRandom(7541);
    for (let round = 0; round < 500; round++) {
      const input = Uint8Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256));
      expect(decodeHuffman(encodeHuffman(input))).toEqual(input);
    }
  });

  it('decodes the empty string', () => {
    expect(decodeHuffman(new Uint8Array(0))).toEqual(new Uint8Array(0));
    expect(encodeHuffman(new Uint8Array(0))).toEqual(new Uint8Array(0));
  });

  it('rejects padding longer than 7 bits', () => {
    // A whole byte of ones after "a" (00011): 3 padding bits, then 8 more ones.
    expectH3Code(() => decodeHuffman(hex('1f ff')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
    // A lone byte of ones is 8 bits of padding.
    expectH3Code(() => decodeHuffman(hex('ff')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });

  it('rejects padding that is not all ones', () => {
    // "a" is 00011; padding 000 instead of 111.
    expectH3Code(() => decodeHuffman(hex('18')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
    expect(decodeHuffman(hex('1f'))).toEqual(ascii('a'));
  });

  it('rejects EOS inside the string', () => {
    // EOS (30 ones) followed by two padding ones fills four bytes.
    expectH3Code(() => decodeHuffman(hex('ffffffff')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
    // "a" then EOS: 00011 + 30 ones + 5 padding ones.
    expectH3Code(() => decodeHuffman(hex('1fffffffff')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });
});
