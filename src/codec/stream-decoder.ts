// Incremental decoder for length-prefixed frames on a byte stream (TCP, QUIC streams).
//
// Input may be split at any byte, including inside the varint prefix, and one chunk may carry many
// frames; the output is the same sequence of frame bodies either way. Incomplete input is kept, never
// rejected. A declared length above maxFrameSize is rejected as soon as the prefix is complete, before
// any of the body is buffered.
import { FrameTooLargeError, ProtocolError } from '../errors.js';
import { MAX_VARINT_BYTES } from './varint.js';

export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024;

export class StreamFrameDecoder {
  private prefixValue = 0;
  private prefixBytes = 0;
  private body: Uint8Array | null = null;
  private bodyFilled = 0;
  private failure: Error | null = null;

  constructor(readonly maxFrameSize: number = DEFAULT_MAX_FRAME_SIZE) {
    if (!Number.isInteger(maxFrameSize) || maxFrameSize < 1) throw new RangeError(`maxFrameSize must be a positive integer, got ${maxFrameSize}`);
  }

  /** Bytes held for a frame that is not complete yet (prefix bytes are not counted). */
  get bufferedBytes(): number {
    return this.bodyFilled;
  }

  /**
   * Feeds one chunk and returns every frame body it completes, in order.
   * Throws FrameTooLargeError or ProtocolError; after that the decoder stays failed, because the
   * stream position is lost and the session must close.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failure) throw this.failure;
    const frames: Uint8Array[] = [];
    let offset = 0;
    try {
      while (offset < chunk.length) {
        if (this.body === null) {
          offset = this.readPrefix(chunk, offset, frames);
          continue;
        }
        const remaining = this.body.length - this.bodyFilled;
        const available = Math.min(remaining, chunk.length - offset);
        this.body.set(chunk.subarray(offset, offset + available), this.bodyFilled);
        this.bodyFilled += available;
        offset += available;
        if (this.bodyFilled === this.body.length) {
          frames.push(this.body);
          this.body = null;
          this.bodyFilled = 0;
        }
      }
    } catch (error) {
      this.failure = error as Error;
      throw error;
    }
    return frames;
  }

  /** Consumes prefix bytes; on a complete prefix either emits a frame in place or starts a body. */
  private readPrefix(chunk: Uint8Array, start: number, frames: Uint8Array[]): number {
    let offset = start;
    while (offset < chunk.length) {
      const byte = chunk[offset++]!;
      this.prefixValue += (byte & 0x7f) * 2 ** (7 * this.prefixBytes);
      this.prefixBytes += 1;
      if (byte & 0x80) {
        if (this.prefixBytes >= MAX_VARINT_BYTES) throw new ProtocolError(`frame length prefix is longer than ${MAX_VARINT_BYTES} bytes`);
        continue;
      }
      const length = this.prefixValue;
      this.prefixValue = 0;
      this.prefixBytes = 0;
      if (length > this.maxFrameSize) throw new FrameTooLargeError(length, this.maxFrameSize);
      if (length === 0) throw new ProtocolError('zero-length frame');
      if (chunk.length - offset >= length) {
        // The whole body is in this chunk: hand out a view instead of copying.
        frames.push(chunk.subarray(offset, offset + length));
        return offset + length;
      }
      this.body = new Uint8Array(length);
      return offset;
    }
    return offset;
  }
}
