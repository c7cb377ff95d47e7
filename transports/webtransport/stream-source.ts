// Reading side of one QUIC stream for the HTTP/3 layer: the stream type or WebTransport prefix is
// parsed first, and whatever arrived with it stays available to the next reader.
import type { QUICStream } from '@matrixai/quic';
import { H3Error, H3ErrorCode } from './h3/errors.js';

/** Longest prefix read before a stream is classified: two 8-byte varints. */
const MAX_PREFIX_BYTES = 16;

export class StreamSource {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private leftover: Uint8Array | null = null;
  private finished = false;

  constructor(readonly stream: QUICStream) {
    this.reader = stream.readable.getReader();
  }

  get streamId(): number {
    return this.stream.streamId;
  }

  /** True once the peer's FIN has been read. */
  get ended(): boolean {
    return this.finished;
  }

  /** Returns the next chunk, or null at the end of the stream. Rejects when the peer resets it. */
  async read(): Promise<Uint8Array | null> {
    const leftover = this.leftover;
    if (leftover !== null) {
      this.leftover = null;
      return leftover;
    }
    if (this.finished) return null;
    const { value, done } = await this.reader.read();
    if (done) {
      this.finished = true;
      return null;
    }
    return value;
  }

  /**
   * Reads until `parse` recognises a prefix and keeps the bytes after it for read(). Returns null
   * when the stream ends first. A prefix longer than 16 bytes cannot be valid and is H3_FRAME_ERROR.
   */
  async readPrefix<T extends { length: number }>(parse: (bytes: Uint8Array) => T | null): Promise<T | null> {
    let buffered: Uint8Array = new Uint8Array(0);
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) return null;
      buffered = join(buffered, chunk);
      const prefix = parse(buffered);
      if (prefix !== null) {
        if (prefix.length < buffered.length) this.leftover = buffered.subarray(prefix.length);
        return prefix;
      }
      if (buffered.length >= MAX_PREFIX_BYTES) throw new H3Error(H3ErrorCode.H3_FRAME_ERROR, `invalid prefix on stream ${this.streamId}: its first ${buffered.length} bytes form no stream type and session id`);
    }
  }

  /** Stops reading: sends STOP_SENDING with the code `reason` maps to (see streamReasonToCode). */
  cancel(reason: unknown): void {
    this.finished = true;
    this.leftover = null;
    this.reader.cancel(reason).catch(() => {});
  }
}

function join(first: Uint8Array, second: Uint8Array): Uint8Array {
  if (first.length === 0) return second;
  const out = new Uint8Array(first.length + second.length);
  out.set(first);
  out.set(second, first.length);
  return out;
}
