// Readers for the peer's QPACK encoder and decoder streams (RFC 9204 §4.2) when both sides use no
// dynamic table: we advertise a capacity of 0 and our encoder never inserts. What remains legal is
// small, and everything else is a connection error.
import { H3Error, H3ErrorCode } from './errors.js';
import { decodePrefixedInt } from './qpack-primitives.js';

/**
 * Appends `chunk` to `pending` and returns the joined bytes. What stays pending is the start of one
 * prefixed integer, which decodePrefixedInt caps at 8 bytes.
 */
function join(pending: Uint8Array, chunk: Uint8Array): Uint8Array {
  if (pending.length === 0) return chunk;
  const out = new Uint8Array(pending.length + chunk.length);
  out.set(pending);
  out.set(chunk, pending.length);
  return out;
}

/**
 * Reads the peer's encoder stream (§4.3). With our capacity at 0, the only valid instruction is Set
 * Dynamic Table Capacity (001 capacity(5)) with capacity 0, because §4.3.1 bounds it by our
 * maximum. Any insert or duplicate needs a dynamic table entry, so it is QPACK_ENCODER_STREAM_ERROR.
 */
export class QpackEncoderStreamReader {
  private pending = new Uint8Array(0);

  push(chunk: Uint8Array): void {
    const bytes = join(this.pending, chunk);
    let offset = 0;
    while (offset < bytes.length) {
      const first = bytes[offset]!;
      if ((first & 0xe0) !== 0x20) {
        throw new H3Error(H3ErrorCode.QPACK_ENCODER_STREAM_ERROR, `encoder stream instruction 0x${first.toString(16)} inserts into a dynamic table of capacity 0`);
      }
      const capacity = decodePrefixedInt(bytes, offset, 5, H3ErrorCode.QPACK_ENCODER_STREAM_ERROR);
      if (!capacity) break;
      if (capacity.value !== 0) {
        throw new H3Error(H3ErrorCode.QPACK_ENCODER_STREAM_ERROR, `dynamic table capacity ${capacity.value} exceeds the advertised maximum of 0`);
      }
      offset += capacity.length;
    }
    this.pending = bytes.slice(offset);
  }
}

/**
 * Reads the peer's decoder stream (§4.4). Stream Cancellation (01 stream id(6)) is valid and
 * returned. Section Acknowledgment (1 stream id(7)) and Insert Count Increment (00 increment(6))
 * can only refer to dynamic table state our encoder never creates, so they are
 * QPACK_DECODER_STREAM_ERROR (§4.4.1, §4.4.3).
 */
export class QpackDecoderStreamReader {
  private pending = new Uint8Array(0);

  /** Returns the ids of streams the peer cancelled in this chunk. */
  push(chunk: Uint8Array): number[] {
    const bytes = join(this.pending, chunk);
    const cancelled: number[] = [];
    let offset = 0;
    while (offset < bytes.length) {
      const first = bytes[offset]!;
      if (first & 0x80) throw new H3Error(H3ErrorCode.QPACK_DECODER_STREAM_ERROR, 'Section Acknowledgment for a field section that used no dynamic table');
      if ((first & 0x40) === 0) throw new H3Error(H3ErrorCode.QPACK_DECODER_STREAM_ERROR, 'Insert Count Increment beyond the entries inserted (none)');
      const streamId = decodePrefixedInt(bytes, offset, 6, H3ErrorCode.QPACK_DECODER_STREAM_ERROR);
      if (!streamId) break;
      cancelled.push(streamId.value);
      offset += streamId.length;
    }
    this.pending = bytes.slice(offset);
    return cancelled;
  }
}
