import { describe, expect, it } from 'vitest';
import { StreamFrameDecoder } from '../../src/codec/stream-decoder.js';
import { lengthPrefixed } from '../../src/codec/frame-codec.js';
import { encodeVarint } from '../../src/codec/varint.js';
import { FrameTooLargeError, ProtocolError } from '../../src/errors.js';
import { seededRandom } from '../../src/random.js';
import { createHash } from 'node:crypto';

function randomFrames(sizes: number[]): Uint8Array[] {
  const random = seededRandom(7);
  return sizes.map((size) => Uint8Array.from({ length: size }, () => Math.floor(random() * 256)));
}

/** Hex digests keep comparisons of large frames fast and failure output short. */
function digests(frames: Uint8Array[]): string[] {
  return frames.map((frame) => `${frame.length}:${createHash('sha256').update(frame).digest('hex').slice(0, 16)}`);
}

function wireBytes(frames: Uint8Array[]): Uint8Array {
  return Buffer.concat(frames.map((frame) => lengthPrefixed(frame)));
}

function decodeInChunks(bytes: Uint8Array, cut: (offset: number) => number, maxFrameSize = 64 * 1024): Uint8Array[] {
  const decoder = new StreamFrameDecoder(maxFrameSize);
  const out: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; ) {
    const end = Math.min(bytes.length, offset + cut(offset));
    out.push(...decoder.push(bytes.subarray(offset, end)));
    offset = end;
  }
  return out;
}

describe('stream frame decoder', () => {
  // Sizes around the 1-, 2- and 3-byte varint boundaries, so prefixes of every length get split.
  const frames = randomFrames([1, 5, 127, 128, 129, 300, 16_383, 16_384, 2]);
  const bytes = wireBytes(frames);
  const smallFrames = randomFrames([1, 2, 127, 128, 129, 200, 3]);
  const smallBytes = wireBytes(smallFrames);

  it('decodes many frames from one chunk', () => {
    expect(digests(decodeInChunks(bytes, () => bytes.length))).toEqual(digests(frames));
  });

  it('decodes input fed one byte at a time', () => {
    expect(digests(decodeInChunks(bytes, () => 1))).toEqual(digests(frames));
  });

  it('decodes input split at every offset', () => {
    const expected = digests(smallFrames);
    for (let split = 1; split < smallBytes.length; split += 1) {
      const decoder = new StreamFrameDecoder();
      const out = [...decoder.push(smallBytes.subarray(0, split)), ...decoder.push(smallBytes.subarray(split))];
      expect(digests(out), `split at ${split}`).toEqual(expected);
    }
  });

  it('decodes input cut into random chunk sizes', () => {
    const random = seededRandom(11);
    for (let round = 0; round < 20; round += 1) {
      expect(digests(decodeInChunks(bytes, () => 1 + Math.floor(random() * 700)))).toEqual(digests(frames));
    }
  });

  it('decodes a frame whose length prefix is split', () => {
    const body = new Uint8Array(300).fill(9);
    const wire = lengthPrefixed(body);
    expect(wire[0]! & 0x80).toBe(0x80);
    const decoder = new StreamFrameDecoder();
    expect(decoder.push(wire.subarray(0, 1))).toEqual([]);
    expect(decoder.push(wire.subarray(1, 2))).toEqual([]);
    expect(decoder.push(wire.subarray(2)).map((f) => Uint8Array.from(f))).toEqual([body]);
  });

  it('keeps incomplete input without throwing', () => {
    const decoder = new StreamFrameDecoder();
    const wire = lengthPrefixed(new Uint8Array(1000));
    expect(() => decoder.push(wire.subarray(0, 500))).not.toThrow();
    expect(decoder.bufferedBytes).toBe(500 - 2);
  });

  it('accepts a frame of exactly the maximum size', () => {
    const max = 4096;
    const body = new Uint8Array(max).fill(1);
    const decoder = new StreamFrameDecoder(max);
    expect(decoder.push(lengthPrefixed(body)).map((f) => f.length)).toEqual([max]);
  });

  it('rejects max+1 from the prefix alone', () => {
    const max = 4096;
    const decoder = new StreamFrameDecoder(max);
    const prefix = encodeVarint(max + 1);
    let caught: unknown;
    try {
      decoder.push(prefix);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FrameTooLargeError);
    expect((caught as FrameTooLargeError).declaredLength).toBe(max + 1);
    expect(decoder.bufferedBytes).toBe(0);
    // The decoder stays failed: the stream position is lost.
    expect(() => decoder.push(new Uint8Array([1]))).toThrow(FrameTooLargeError);
  });

  it('rejects a huge declared length without allocating it', () => {
    const decoder = new StreamFrameDecoder();
    expect(() => decoder.push(encodeVarint(2 ** 31))).toThrow(FrameTooLargeError);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('rejects an overlong prefix as a protocol error', () => {
    const decoder = new StreamFrameDecoder();
    expect(() => decoder.push(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]))).toThrow(ProtocolError);
  });

  it('rejects a zero-length frame', () => {
    const decoder = new StreamFrameDecoder();
    expect(() => decoder.push(new Uint8Array([0]))).toThrow(ProtocolError);
  });
});
