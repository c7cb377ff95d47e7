// Incremental reader for the Type (i) + Length (i) + Value layout that HTTP/3 frames (RFC 9114
// §7.1) and capsules (RFC 9297 §3.2) share.
//
// Input may be split at any byte, including inside either varint; one chunk may carry many
// elements. For each header the owner chooses what happens to the value: buffer it whole (bounded
// by the owner's maximum), stream it in pieces as bytes arrive, skip it without buffering (unknown
// and GREASE types), or hand over everything that follows (a stream that stops being framed, such
// as a WebTransport stream after its signal value).
import { H3Error, type H3ErrorCode } from './errors.js';
import { decodeVarint } from './varint.js';

export type TlvAction = 'buffer' | 'stream' | 'skip' | 'rest';

export interface TlvHandler {
  /**
   * Called once both varints are complete, before any value byte is read. May throw an H3Error
   * (for example a length above the owner's maximum).
   */
  header(type: bigint, length: bigint): TlvAction;
  /** A buffered value is complete ('buffer'). */
  value(type: bigint, value: Uint8Array): void;
  /** A piece of a streamed value ('stream', final marks its last piece) or of the rest of the input ('rest', final is always false). */
  piece(type: bigint, data: Uint8Array, final: boolean): void;
}

export interface TlvReaderOptions {
  /** Error code when the input ends inside an element (for frames, H3_FRAME_ERROR per RFC 9114 §7.1). */
  truncatedCode: H3ErrorCode;
  /** Error code for a length that no JavaScript number can count (above 2^53-1 bytes). */
  oversizeCode: H3ErrorCode;
  /** Name of the element in error messages ("frame", "capsule"). */
  elementName: string;
}

/** Two varints take at most 16 bytes. */
const MAX_HEADER_BYTES = 16;

type State =
  | { kind: 'header' }
  | { kind: 'buffer'; type: bigint; body: Uint8Array; filled: number }
  | { kind: 'stream'; type: bigint; remaining: number }
  | { kind: 'skip'; remaining: number }
  | { kind: 'rest'; type: bigint };

export class TlvReader {
  private readonly header = new Uint8Array(MAX_HEADER_BYTES);
  private headerFilled = 0;
  private state: State = { kind: 'header' };
  private failure: H3Error | null = null;

  constructor(
    private readonly handler: TlvHandler,
    private readonly options: TlvReaderOptions,
  ) {}

  /** True between elements, where the input may end cleanly. */
  get atBoundary(): boolean {
    return (this.state.kind === 'header' && this.headerFilled === 0) || this.state.kind === 'rest';
  }

  /**
   * Feeds one chunk. Handler callbacks run synchronously, in input order. After an error the
   * reader stays failed and rethrows it, because the position in the stream is lost.
   */
  push(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    try {
      let offset = 0;
      while (offset < chunk.length) offset = this.step(chunk, offset);
    } catch (error) {
      this.failure = error instanceof H3Error ? error : new H3Error(this.options.truncatedCode, `${this.options.elementName} handler failed`, { cause: error });
      throw this.failure;
    }
  }

  /** Declares the end of input; throws when it falls inside an element. */
  finish(): void {
    if (this.failure) throw this.failure;
    if (!this.atBoundary) {
      this.failure = new H3Error(this.options.truncatedCode, `stream ended inside a ${this.options.elementName}`);
      throw this.failure;
    }
  }

  private step(chunk: Uint8Array, offset: number): number {
    const state = this.state;
    switch (state.kind) {
      case 'header':
        return this.readHeader(chunk, offset);
      case 'buffer': {
        const take = Math.min(state.body.length - state.filled, chunk.length - offset);
        state.body.set(chunk.subarray(offset, offset + take), state.filled);
        state.filled += take;
        if (state.filled === state.body.length) {
          this.state = { kind: 'header' };
          this.handler.value(state.type, state.body);
        }
        return offset + take;
      }
      case 'stream': {
        const take = Math.min(state.remaining, chunk.length - offset);
        state.remaining -= take;
        const final = state.remaining === 0;
        if (final) this.state = { kind: 'header' };
        this.handler.piece(state.type, chunk.subarray(offset, offset + take), final);
        return offset + take;
      }
      case 'skip': {
        const take = Math.min(state.remaining, chunk.length - offset);
        state.remaining -= take;
        if (state.remaining === 0) this.state = { kind: 'header' };
        return offset + take;
      }
      case 'rest':
        this.handler.piece(state.type, chunk.subarray(offset), false);
        return chunk.length;
    }
  }

  /**
   * Copies header bytes into a small buffer until both varints decode, then gives back the bytes
   * it copied past the header so the value starts at the right offset.
   */
  private readHeader(chunk: Uint8Array, offset: number): number {
    const copied = Math.min(MAX_HEADER_BYTES - this.headerFilled, chunk.length - offset);
    this.header.set(chunk.subarray(offset, offset + copied), this.headerFilled);
    const before = this.headerFilled;
    const available = this.header.subarray(0, before + copied);

    const type = decodeVarint(available, 0);
    const length = type ? decodeVarint(available, type.length) : null;
    if (!type || !length) {
      this.headerFilled += copied;
      return offset + copied;
    }

    const headerLength = type.length + length.length;
    this.headerFilled = 0;
    const next = offset + (headerLength - before);
    this.begin(type.value, length.value);
    return next;
  }

  private begin(type: bigint, length: bigint): void {
    const action = this.handler.header(type, length);
    if (action === 'rest') {
      this.state = { kind: 'rest', type };
      return;
    }
    if (length > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new H3Error(this.options.oversizeCode, `${this.options.elementName} length ${length} is beyond any stream this endpoint accepts`);
    }
    const size = Number(length);
    switch (action) {
      case 'buffer':
        if (size === 0) this.handler.value(type, new Uint8Array(0));
        else this.state = { kind: 'buffer', type, body: new Uint8Array(size), filled: 0 };
        return;
      case 'stream':
        if (size === 0) this.handler.piece(type, new Uint8Array(0), true);
        else this.state = { kind: 'stream', type, remaining: size };
        return;
      case 'skip':
        if (size > 0) this.state = { kind: 'skip', remaining: size };
        return;
    }
  }
}
