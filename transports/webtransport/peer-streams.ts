// Readers for the peer's critical unidirectional streams: the control stream (RFC 9114 section
// 6.2.1) and the QPACK encoder and decoder streams (RFC 9204 section 4.2). Each runs for the life
// of the connection; a critical stream that ends or is reset is H3_CLOSED_CRITICAL_STREAM.
import { H3Error, H3ErrorCode } from './h3/errors.js';
import { FrameParser } from './h3/frames.js';
import { QpackDecoderStreamReader, QpackEncoderStreamReader } from './h3/qpack-streams.js';
import type { Settings } from './h3/settings.js';
import type { StreamSource } from './stream-source.js';

export interface ControlStreamHandler {
  onSettings(settings: Settings): void;
  onGoaway(id: bigint): void;
  /** MAX_PUSH_ID (RFC 9114 section 7.2.7), which only a client may send. */
  onMaxPushId(pushId: bigint): void;
}

/** Largest control frame buffered; SETTINGS and GOAWAY are a few bytes. */
const MAX_CONTROL_FRAME_SIZE = 4096;

function closedCritical(name: string, cause?: unknown): H3Error {
  return new H3Error(H3ErrorCode.H3_CLOSED_CRITICAL_STREAM, `the peer closed its ${name} stream`, cause === undefined ? {} : { cause });
}

/** Reads the peer's control stream until the connection ends. Throws H3Error for any violation. */
export async function readControlStream(source: StreamSource, handler: ControlStreamHandler): Promise<void> {
  const parser = new FrameParser({ stream: 'control', maxFrameSize: MAX_CONTROL_FRAME_SIZE });
  for (;;) {
    const chunk = await readCritical(source, 'control');
    for (const event of parser.push(chunk)) {
      switch (event.type) {
        case 'settings':
          handler.onSettings(event.settings);
          break;
        case 'goaway':
          handler.onGoaway(event.id);
          break;
        case 'max-push-id':
          handler.onMaxPushId(event.pushId);
          break;
        // CANCEL_PUSH refers to pushes, which this endpoint never makes or accepts.
        default:
          break;
      }
    }
  }
}

/**
 * Reads the peer's QPACK encoder or decoder stream. With a dynamic table capacity of 0 on both
 * sides only a capacity of 0 and stream cancellations are valid, which the readers check.
 */
export async function readQpackStream(source: StreamSource, kind: 'qpack-encoder' | 'qpack-decoder'): Promise<void> {
  const reader = kind === 'qpack-encoder' ? new QpackEncoderStreamReader() : new QpackDecoderStreamReader();
  for (;;) {
    const chunk = await readCritical(source, kind === 'qpack-encoder' ? 'QPACK encoder' : 'QPACK decoder');
    reader.push(chunk);
  }
}

async function readCritical(source: StreamSource, name: string): Promise<Uint8Array> {
  let chunk: Uint8Array | null;
  try {
    chunk = await source.read();
  } catch (error) {
    throw closedCritical(name, error);
  }
  if (chunk === null) throw closedCritical(name);
  return chunk;
}
