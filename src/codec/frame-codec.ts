// Encoding and decoding of the Frame envelope, and the length-prefixed form used on streams.
import { ProtocolError } from '../errors.js';
import { wire, type Frame, type FrameInit } from './proto.js';
import { encodeVarint } from './varint.js';

export function encodeFrame(frame: FrameInit): Uint8Array {
  return wire.Frame.encode(frame).finish();
}

/** Decodes one Frame; malformed bytes or an empty envelope raise ProtocolError. */
export function decodeFrame(bytes: Uint8Array): Frame {
  let frame: Frame;
  try {
    frame = wire.Frame.decode(bytes);
  } catch (error) {
    throw new ProtocolError(`malformed frame of ${bytes.length} bytes`, { cause: error });
  }
  if (!frame.body) throw new ProtocolError('frame has no body');
  return frame;
}

/** Returns `body` with its varint length prefix, as one buffer ready for a single write. */
export function lengthPrefixed(body: Uint8Array): Buffer {
  const prefix = encodeVarint(body.length);
  const out = Buffer.allocUnsafe(prefix.length + body.length);
  out.set(prefix, 0);
  out.set(body, prefix.length);
  return out;
}

/** Expands a batch into its inner frames; a batch inside a batch is a protocol error. */
export function unbatch(frame: Frame): Frame[] {
  if (frame.body !== 'batch') return [frame];
  const inner = (frame.batch?.frames ?? []).map((bytes) => decodeFrame(bytes));
  if (inner.some((f) => f.body === 'batch')) throw new ProtocolError('nested batch frame');
  return inner;
}
