// Seeded fuzzing of every decoder that reads peer bytes: random and mutated inputs must either
// decode or raise H3Error, never another exception, and every run is bounded.
import { describe, expect, it } from 'vitest';
import { CapsuleParser, encodeCloseSessionCapsule, encodeDatagramCapsule, encodeDrainSessionCapsule } from '../../transports/webtransport/h3/capsules.js';
import { validateWebTransportConnect, webTransportConnectFields } from '../../transports/webtransport/h3/connect-request.js';
import { H3Error } from '../../transports/webtransport/h3/errors.js';
import { FrameParser, encodeDataFrame, encodeGoawayFrame, encodeGreaseFrame, encodeHeadersFrame, encodeSettingsFrame, type FrameStreamKind } from '../../transports/webtransport/h3/frames.js';
import { decodeHuffman } from '../../transports/webtransport/h3/huffman.js';
import { decodeFieldSection, encodeFieldSection } from '../../transports/webtransport/h3/qpack.js';
import { QpackDecoderStreamReader, QpackEncoderStreamReader } from '../../transports/webtransport/h3/qpack-streams.js';
import { parseBidiStreamPrefix, parseDatagram, parseUniStreamPrefix, serverSettings } from '../../transports/webtransport/h3/settings.js';
import { concatBytes } from '../../transports/webtransport/h3/varint.js';
import { seededRandom, type Random } from '../../src/random.js';

const ROUNDS = 4000;

function randomBytes(random: Random, maxLength: number): Uint8Array {
  return Uint8Array.from({ length: Math.floor(random() * maxLength) }, () => Math.floor(random() * 256));
}

/** Flips, replaces, inserts, deletes or truncates a few bytes of a valid input. */
function mutate(random: Random, input: Uint8Array): Uint8Array {
  const bytes = Array.from(input);
  const edits = 1 + Math.floor(random() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * (bytes.length + 1));
    const choice = random();
    if (choice < 0.3 && at < bytes.length) bytes[at] = bytes[at]! ^ (1 << Math.floor(random() * 8));
    else if (choice < 0.5 && at < bytes.length) bytes[at] = Math.floor(random() * 256);
    else if (choice < 0.7) bytes.splice(at, 0, Math.floor(random() * 256));
    else if (choice < 0.85) bytes.splice(at, 1);
    else bytes.length = Math.min(bytes.length, at);
  }
  return Uint8Array.from(bytes);
}

/** Feeds `input` in random chunks; returns quietly or with an H3Error. */
function feedInChunks(random: Random, input: Uint8Array, push: (chunk: Uint8Array) => unknown, finish?: () => void): void {
  let offset = 0;
  let chunks = 0;
  while (offset < input.length) {
    const size = 1 + Math.floor(random() * 16);
    push(input.subarray(offset, offset + size));
    offset += size;
    chunks += 1;
    if (chunks > input.length + 1) throw new Error('chunk loop did not terminate');
  }
  finish?.();
}

/** Runs `action`; anything thrown must be an H3Error. Returns 1 when it threw. */
function onlyH3Errors(action: () => void, input: Uint8Array): number {
  try {
    action();
    return 0;
  } catch (error) {
    if (!(error instanceof H3Error)) {
      throw new Error(`non-H3Error ${String(error)} for input ${Buffer.from(input).toString('hex')}`, { cause: error });
    }
    return 1;
  }
}

const FRAME_SEEDS = [
  encodeSettingsFrame(serverSettings()),
  concatBytes([encodeSettingsFrame(serverSettings()), encodeGreaseFrame(3, Uint8Array.of(1, 2)), encodeGoawayFrame(8)]),
  concatBytes([encodeHeadersFrame(encodeFieldSection(webTransportConnectFields({ authority: 'localhost', path: '/' }))), encodeDataFrame(Uint8Array.of(1, 2, 3))]),
  Uint8Array.of(0x40, 0x41, 0x04, 0x68, 0x69),
];

const CAPSULE_SEEDS = [
  concatBytes([encodeDatagramCapsule(Uint8Array.of(1, 2)), encodeDrainSessionCapsule(), encodeCloseSessionCapsule(9, 'closing')]),
  encodeCloseSessionCapsule(0xffffffff, '\u00e9\u00e8'),
];

const QPACK_SEEDS = [
  encodeFieldSection(webTransportConnectFields({ authority: 'www.example.com', path: '/wt', origin: 'https://www.example.com' }), { huffman: 'always' }),
  encodeFieldSection([{ name: ':status', value: '200' }, { name: 'x-custom', value: 'value' }], { huffman: 'never' }),
];

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

describe('codec fuzzing', () => {
  it('frame parser raises only H3Error', () => {
    const random = seededRandom(9114);
    let failures = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const input = random() < 0.5 ? randomBytes(random, 64) : mutate(random, pick(random, FRAME_SEEDS));
      const stream = pick<FrameStreamKind>(random, ['any', 'control', 'request']);
      const parser = new FrameParser({ stream, maxFrameSize: 256 });
      failures += onlyH3Errors(() => feedInChunks(random, input, (chunk) => parser.push(chunk), () => parser.finish()), input);
    }
    // Both outcomes must occur, or the inputs are not exercising the parser.
    expect(failures).toBeGreaterThan(0);
    expect(failures).toBeLessThan(ROUNDS);
  });

  it('capsule parser raises only H3Error', () => {
    const random = seededRandom(9297);
    let failures = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const input = random() < 0.5 ? randomBytes(random, 64) : mutate(random, pick(random, CAPSULE_SEEDS));
      const parser = new CapsuleParser({ maxCapsuleSize: 2048 });
      failures += onlyH3Errors(() => feedInChunks(random, input, (chunk) => parser.push(chunk), () => parser.finish()), input);
    }
    expect(failures).toBeGreaterThan(0);
    expect(failures).toBeLessThan(ROUNDS);
  });

  it('QPACK decoder and request validation raise only H3Error', () => {
    const random = seededRandom(9204);
    let failures = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const input = random() < 0.3 ? randomBytes(random, 48) : mutate(random, pick(random, QPACK_SEEDS));
      failures += onlyH3Errors(() => {
        const result = validateWebTransportConnect(decodeFieldSection(input, { maxFieldSectionSize: 4096 }));
        if (result instanceof H3Error) throw result;
      }, input);
    }
    expect(failures).toBeGreaterThan(0);
    expect(failures).toBeLessThan(ROUNDS);
  });

  it('Huffman, stream prefixes, datagrams and QPACK streams raise only H3Error', () => {
    const random = seededRandom(7541);
    for (let round = 0; round < ROUNDS; round++) {
      const input = randomBytes(random, 24);
      onlyH3Errors(() => decodeHuffman(input), input);
      onlyH3Errors(() => parseUniStreamPrefix(input), input);
      onlyH3Errors(() => parseBidiStreamPrefix(input), input);
      onlyH3Errors(() => parseDatagram(input), input);
      const encoderStream = new QpackEncoderStreamReader();
      onlyH3Errors(() => feedInChunks(random, input, (chunk) => encoderStream.push(chunk)), input);
      const decoderStream = new QpackDecoderStreamReader();
      onlyH3Errors(() => feedInChunks(random, input, (chunk) => decoderStream.push(chunk)), input);
    }
  });
});
