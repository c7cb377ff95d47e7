// WebTransport streams that name a session the connection does not know yet. A stream can
// overtake the CONNECT request (server) or its response (client), because QUIC orders bytes only
// within a stream. The draft lets the receiver buffer such streams within a limit
// (draft-ietf-webtrans-http3-02, "Bidirectional Streams").
import type { QUICStream } from '@matrixai/quic';
import type { Logger } from '../../src/logger.js';
import { StreamAbort } from './errors.js';
import type { StreamSource } from './stream-source.js';

/** Streams held per connection, over all unknown sessions. */
const MAX_PENDING_STREAMS = 16;

/**
 * WEBTRANSPORT_BUFFERED_STREAM_REJECTED, the code later drafts of draft-ietf-webtrans-http3 give
 * to streams dropped for lack of buffer; draft-02 names none.
 */
const BUFFERED_STREAM_REJECTED = 0x3994bd84;

interface PendingStream {
  sessionId: number;
  stream: QUICStream;
  source: StreamSource;
  timer: NodeJS.Timeout;
}

export class PendingStreams {
  private readonly entries: PendingStream[] = [];

  constructor(
    private readonly holdMs: number,
    private readonly logger: Logger,
  ) {}

  /** Holds a stream until its session appears or holdMs passes, then resets it. */
  hold(sessionId: number, stream: QUICStream, source: StreamSource): void {
    if (this.entries.length >= MAX_PENDING_STREAMS) {
      this.logger.debug({ sessionId, streamId: stream.streamId }, 'too many streams for unknown sessions; rejecting one');
      source.cancel(abort(sessionId));
      stream.cancel(abort(sessionId));
      return;
    }
    const entry: PendingStream = { sessionId, stream, source, timer: setTimeout(() => this.expire(entry), this.holdMs) };
    entry.timer.unref();
    this.entries.push(entry);
  }

  /** Removes and returns the streams held for `sessionId`. */
  take(sessionId: number): Array<{ stream: QUICStream; source: StreamSource }> {
    const taken = this.remove((entry) => entry.sessionId === sessionId);
    return taken.map(({ stream, source }) => ({ stream, source }));
  }

  reject(sessionId: number): void {
    for (const entry of this.remove((candidate) => candidate.sessionId === sessionId)) cancel(entry);
  }

  clear(): void {
    for (const entry of this.remove(() => true)) clearTimeout(entry.timer);
  }

  private expire(entry: PendingStream): void {
    if (this.remove((candidate) => candidate === entry).length === 0) return;
    this.logger.debug({ sessionId: entry.sessionId, streamId: entry.stream.streamId }, 'no session appeared for a held stream; rejecting it');
    cancel(entry);
  }

  private remove(predicate: (entry: PendingStream) => boolean): PendingStream[] {
    const removed: PendingStream[] = [];
    for (let index = this.entries.length - 1; index >= 0; index -= 1) {
      const entry = this.entries[index]!;
      if (!predicate(entry)) continue;
      clearTimeout(entry.timer);
      this.entries.splice(index, 1);
      removed.unshift(entry);
    }
    return removed;
  }
}

function abort(sessionId: number): StreamAbort {
  return new StreamAbort(BUFFERED_STREAM_REJECTED, `no WebTransport session ${sessionId} for this stream`);
}

function cancel(entry: PendingStream): void {
  entry.source.cancel(abort(entry.sessionId));
  entry.stream.cancel(abort(entry.sessionId));
}
