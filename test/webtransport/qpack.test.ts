import { describe, expect, it } from 'vitest';
import { H3ErrorCode } from '../../transports/webtransport/h3/errors.js';
import { encodeHuffman } from '../../transports/webtransport/h3/huffman.js';
import { decodeFieldSection, encodeFieldSection, type HeaderField } from '../../transports/webtransport/h3/qpack.js';
import { decodePrefixedInt, decodeStringLiteral, encodePrefixedInt, encodeStringLiteral } from '../../transports/webtransport/h3/qpack-primitives.js';
import { STATIC_TABLE, findStaticField, findStaticName } from '../../transports/webtransport/h3/qpack-static-table.js';
import { QpackDecoderStreamReader, QpackEncoderStreamReader } from '../../transports/webtransport/h3/qpack-streams.js';
import { ascii, expectH3Code, hex, toHex } from './helpers.js';

const CONNECT_FIELDS: HeaderField[] = [
  { name: ':method', value: 'CONNECT' },
  { name: ':scheme', value: 'https' },
  { name: ':authority', value: 'www.example.com' },
  { name: ':path', value: '/wt' },
  { name: ':protocol', value: 'webtransport' },
  { name: 'sec-webtransport-http3-draft02', value: '1' },
  { name: 'origin', value: 'https://www.example.com' },
  { name: 'user-agent', value: 'pushlab-test' },
];

/**
 * Assembles the CONNECT above byte by byte the way a browser's QPACK encoder with no dynamic
 * table writes it: static indices for whole fields, static name references, literal names, and
 * Huffman where it is shorter. The Huffman strings are those of RFC 7541 C.4.1 and C.6.1.
 */
function handAssembledConnect(): Uint8Array {
  const draftName = encodeHuffman(ascii('sec-webtransport-http3-draft02'));
  return Uint8Array.from([
    0x00, 0x00, // Required Insert Count 0, Delta Base 0
    0xcf, // indexed, static 15 :method CONNECT
    0xd7, // indexed, static 23 :scheme https
    0x50, 0x8c, ...hex('f1e3c2e5f23a6ba0ab90f4ff'), // name ref static 0 :authority, Huffman "www.example.com"
    0x51, 0x03, ...ascii('/wt'), // name ref static 1 :path, raw "/wt"
    0x27, 0x02, ...ascii(':protocol'), 0x0c, ...ascii('webtransport'), // literal name of 9 bytes (7 + 2)
    0x2f, draftName.length - 7, ...draftName, 0x01, ...ascii('1'), // literal Huffman name (H bit 0x08)
    0x5f, 0x4b, 0x91, ...hex('9d29ad171863c78f0b97c8e9ae82ae43d3'), // name ref static 90 origin (15 + 75), Huffman value
    0x5f, 0x50, 0x0c, ...ascii('pushlab-test'), // name ref static 95 user-agent (15 + 80)
  ]);
}

describe('qpack prefixed integers', () => {
  it('encodes RFC 7541 C.1 examples', () => {
    expect(encodePrefixedInt(10, 5)).toEqual([0x0a]);
    expect(encodePrefixedInt(1337, 5)).toEqual([0x1f, 0x9a, 0x0a]);
    expect(encodePrefixedInt(42, 8)).toEqual([0x2a]);
  });

  it('decodes RFC 7541 C.1 examples', () => {
    // The bits above the prefix belong to the representation and are ignored.
    expect(decodePrefixedInt(Uint8Array.of(0xea), 0, 5)).toEqual({ value: 10, length: 1 });
    expect(decodePrefixedInt(Uint8Array.of(0xff, 0x9a, 0x0a), 0, 5)).toEqual({ value: 1337, length: 3 });
    expect(decodePrefixedInt(Uint8Array.of(0x2a), 0, 8)).toEqual({ value: 42, length: 1 });
  });

  it('round-trips across prefix sizes', () => {
    for (let bits = 1; bits <= 8; bits++) {
      for (const value of [0, 1, (1 << bits) - 2, (1 << bits) - 1, 1 << bits, 127, 128, 16_383, 1_000_000, 2 ** 40]) {
        const encoded = Uint8Array.from(encodePrefixedInt(value, bits));
        expect(decodePrefixedInt(encoded, 0, bits)).toEqual({ value, length: encoded.length });
      }
    }
  });

  it('returns null on incomplete input and rejects overlong input', () => {
    expect(decodePrefixedInt(Uint8Array.of(0x1f, 0x9a), 0, 5)).toBeNull();
    expect(decodePrefixedInt(new Uint8Array(0), 0, 5)).toBeNull();
    expectH3Code(() => decodePrefixedInt(Uint8Array.of(0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), 0, 5), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });

  it('encodes string literals with and without Huffman', () => {
    expect(toHex(Uint8Array.from(encodeStringLiteral(ascii('no-cache'), 7, 0, 'always')))).toBe('86a8eb10649cbf');
    expect(toHex(Uint8Array.from(encodeStringLiteral(ascii('no-cache'), 7, 0, 'never')))).toBe('086e6f2d6361636865');
    expect(decodeStringLiteral(hex('86a8eb10649cbf'), 0, 7).bytes).toEqual(ascii('no-cache'));
  });
});

describe('qpack static table', () => {
  it('has the 99 entries of RFC 9204 Appendix A', () => {
    expect(STATIC_TABLE).toHaveLength(99);
    expect(STATIC_TABLE[0]).toEqual([':authority', '']);
    expect(STATIC_TABLE[15]).toEqual([':method', 'CONNECT']);
    expect(STATIC_TABLE[25]).toEqual([':status', '200']);
    expect(STATIC_TABLE[90]).toEqual(['origin', '']);
    expect(STATIC_TABLE[98]).toEqual(['x-frame-options', 'sameorigin']);
  });

  it('finds fields and names', () => {
    expect(findStaticField(':status', '200')).toBe(25);
    expect(findStaticField(':status', '201')).toBeUndefined();
    expect(findStaticName(':status')).toBe(24);
    expect(findStaticName(':protocol')).toBeUndefined();
  });
});

describe('qpack field sections', () => {
  it('decodes a hand-assembled browser CONNECT', () => {
    expect(decodeFieldSection(handAssembledConnect())).toEqual(CONNECT_FIELDS);
  });

  it('round-trips a CONNECT through the encoder in every Huffman mode', () => {
    for (const huffman of ['auto', 'always', 'never'] as const) {
      const encoded = encodeFieldSection(CONNECT_FIELDS, { huffman });
      expect(decodeFieldSection(encoded)).toEqual(CONNECT_FIELDS);
    }
  });

  it('encodes :status 200 as one static index', () => {
    expect(toHex(encodeFieldSection([{ name: ':status', value: '200' }]))).toBe('0000d9');
  });

  it('round-trips values with obs-text bytes', () => {
    const fields = [{ name: 'x-latin', value: 'caf\u00e9 \u00ff' }];
    expect(decodeFieldSection(encodeFieldSection(fields))).toEqual(fields);
  });

  it('rejects uppercase names and characters above U+00FF', () => {
    expect(() => encodeFieldSection([{ name: 'Origin', value: 'x' }])).toThrow(RangeError);
    expect(() => encodeFieldSection([{ name: 'x-a', value: '\u20ac' }])).toThrow(RangeError);
  });

  it('rejects a non-zero Required Insert Count', () => {
    expectH3Code(() => decodeFieldSection(hex('0100d9')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });

  it('rejects every dynamic table reference', () => {
    const cases = ['0000 80', '0000 10', '0000 4003616263', '0000 0003616263'];
    for (const section of cases) expectH3Code(() => decodeFieldSection(hex(section)), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });

  it('rejects a static index past the table', () => {
    expectH3Code(() => decodeFieldSection(hex('0000 ff24')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });

  it('rejects truncated sections', () => {
    const full = encodeFieldSection(CONNECT_FIELDS);
    for (let cut = 0; cut < full.length; cut++) {
      const prefix = full.subarray(0, cut);
      try {
        decodeFieldSection(prefix);
      } catch (error) {
        expect((error as { h3Code?: number }).h3Code).toBe(H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
      }
    }
    expectH3Code(() => decodeFieldSection(new Uint8Array(0)), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
    expectH3Code(() => decodeFieldSection(hex('00')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
    expectH3Code(() => decodeFieldSection(hex('0000 5085')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });

  it('rejects a section above the size limit', () => {
    const fields = [{ name: 'x-big', value: 'a'.repeat(200) }];
    expectH3Code(() => decodeFieldSection(encodeFieldSection(fields), { maxFieldSectionSize: 200 }), H3ErrorCode.H3_EXCESSIVE_LOAD);
    expect(decodeFieldSection(encodeFieldSection(fields), { maxFieldSectionSize: 237 })).toEqual(fields);
  });
});

describe('qpack encoder and decoder streams', () => {
  it('accepts Set Dynamic Table Capacity 0 split across chunks', () => {
    const reader = new QpackEncoderStreamReader();
    reader.push(hex('20'));
    reader.push(hex('2020'));
  });

  it('rejects a capacity above 0 and any insert', () => {
    expectH3Code(() => new QpackEncoderStreamReader().push(hex('3f e1 1f')), H3ErrorCode.QPACK_ENCODER_STREAM_ERROR);
    expectH3Code(() => new QpackEncoderStreamReader().push(hex('c0 01 61')), H3ErrorCode.QPACK_ENCODER_STREAM_ERROR);
    expectH3Code(() => new QpackEncoderStreamReader().push(hex('41 61 01 62')), H3ErrorCode.QPACK_ENCODER_STREAM_ERROR);
    expectH3Code(() => new QpackEncoderStreamReader().push(hex('00')), H3ErrorCode.QPACK_ENCODER_STREAM_ERROR);
  });

  it('returns cancelled streams and rejects acknowledgments', () => {
    const reader = new QpackDecoderStreamReader();
    expect(reader.push(hex('44 7f'))).toEqual([4]);
    expect(reader.push(hex('05'))).toEqual([68]);
    expectH3Code(() => new QpackDecoderStreamReader().push(hex('84')), H3ErrorCode.QPACK_DECODER_STREAM_ERROR);
    expectH3Code(() => new QpackDecoderStreamReader().push(hex('01')), H3ErrorCode.QPACK_DECODER_STREAM_ERROR);
  });
});
