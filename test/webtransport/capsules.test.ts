import { describe, expect, it } from 'vitest';
import {
  CapsuleParser,
  CapsuleType,
  MAX_CLOSE_MESSAGE_BYTES,
  encodeCapsule,
  encodeCloseSessionCapsule,
  encodeDatagramCapsule,
  encodeDrainSessionCapsule,
  isGreaseCapsuleType,
  type Capsule,
} from '../../transports/webtransport/h3/capsules.js';
import { H3ErrorCode } from '../../transports/webtransport/h3/errors.js';
import { concatBytes, encodeVarint } from '../../transports/webtransport/h3/varint.js';
import { ascii, expectH3Code, hex, toHex } from './helpers.js';

function parseSplit(bytes: Uint8Array, cuts: number[]): Capsule[] {
  const parser = new CapsuleParser();
  const capsules: Capsule[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    capsules.push(...parser.push(bytes.subarray(start, cut)));
    start = cut;
  }
  parser.finish();
  return capsules;
}

const STREAM = concatBytes([
  encodeCapsule(0x29n * 7n + 0x17n, ascii('grease')),
  encodeDatagramCapsule(ascii('ping')),
  encodeCapsule(0x190b4d3fn, encodeVarint(100)),
  encodeDrainSessionCapsule(),
  encodeCloseSessionCapsule(0x1234abcd, 'bye \u00e9'),
]);

describe('capsules', () => {
  it('encodes CLOSE_WEBTRANSPORT_SESSION as type, length, code and message', () => {
    expect(toHex(encodeCloseSessionCapsule(7, 'ok'))).toBe('6843' + '06' + '00000007' + '6f6b');
  });

  it('parses known capsules and skips unknown and GREASE ones', () => {
    expect(parseSplit(STREAM, [])).toEqual([
      { type: 'datagram', payload: ascii('ping') },
      { type: 'drain-session' },
      { type: 'close-session', code: 0x1234abcd, message: 'bye \u00e9' },
    ]);
  });

  it('gives the same capsules for input split at every byte offset', () => {
    const whole = parseSplit(STREAM, []);
    for (let cut = 0; cut <= STREAM.length; cut++) expect(parseSplit(STREAM, [cut]), `split at ${cut}`).toEqual(whole);
    expect(parseSplit(STREAM, Array.from({ length: STREAM.length }, (_, i) => i))).toEqual(whole);
  });

  it('cuts a long close message at a character boundary', () => {
    const capsule = encodeCloseSessionCapsule(1, '\u00e9'.repeat(600));
    const [parsed] = parseSplit(capsule, []);
    expect(parsed).toEqual({ type: 'close-session', code: 1, message: '\u00e9'.repeat(MAX_CLOSE_MESSAGE_BYTES / 2) });
  });

  it('rejects close messages over 1024 bytes, short values and bad UTF-8', () => {
    const long = encodeCapsule(CapsuleType.CLOSE_WEBTRANSPORT_SESSION, new Uint8Array(4 + MAX_CLOSE_MESSAGE_BYTES + 1));
    expectH3Code(() => new CapsuleParser().push(long.subarray(0, 6)), H3ErrorCode.H3_DATAGRAM_ERROR);
    expectH3Code(() => new CapsuleParser().push(encodeCapsule(CapsuleType.CLOSE_WEBTRANSPORT_SESSION, hex('000001'))), H3ErrorCode.H3_DATAGRAM_ERROR);
    expectH3Code(() => new CapsuleParser().push(encodeCapsule(CapsuleType.CLOSE_WEBTRANSPORT_SESSION, hex('00000001 c3'))), H3ErrorCode.H3_DATAGRAM_ERROR);
  });

  it('rejects a non-empty drain capsule and an oversized datagram capsule', () => {
    expectH3Code(() => new CapsuleParser().push(encodeCapsule(CapsuleType.DRAIN_WEBTRANSPORT_SESSION, hex('00'))), H3ErrorCode.H3_DATAGRAM_ERROR);
    const parser = new CapsuleParser({ maxCapsuleSize: 2000 });
    expectH3Code(() => parser.push(encodeDatagramCapsule(new Uint8Array(2001)).subarray(0, 3)), H3ErrorCode.H3_EXCESSIVE_LOAD);
  });

  it('reports a stream that ends inside a capsule', () => {
    const capsule = encodeCloseSessionCapsule(5, 'x');
    for (let cut = 1; cut < capsule.length; cut++) {
      const parser = new CapsuleParser();
      parser.push(capsule.subarray(0, cut));
      expectH3Code(() => parser.finish(), H3ErrorCode.H3_DATAGRAM_ERROR);
    }
  });

  it('rejects invalid close codes when encoding', () => {
    expect(() => encodeCloseSessionCapsule(-1)).toThrow(RangeError);
    expect(() => encodeCloseSessionCapsule(2 ** 32)).toThrow(RangeError);
  });

  it('recognises GREASE capsule types', () => {
    expect(isGreaseCapsuleType(0x17n)).toBe(true);
    expect(isGreaseCapsuleType(0x17n + 0x29n * 99n)).toBe(true);
    expect(isGreaseCapsuleType(CapsuleType.CLOSE_WEBTRANSPORT_SESSION)).toBe(false);
  });
});
