// One pushlab connection over one QUIC connection.
//
// Reliable frames travel on a single bidirectional stream that the client opens, as varint length
// prefix + body (src/codec/stream-decoder.ts). The server learns of the stream with the client's
// first bytes (QUIC announces a stream only through a STREAM frame, RFC 9000 section 2.1), so frames
// the server sends before that are held and count towards bufferedAmount. Unreliable frames use
// DATAGRAM frames (RFC 9221), one frame body per datagram, when both ends negotiated them.
import { events, errors as quicErrors, type QUICConnection, type QUICStream } from '@matrixai/quic';
import { BaseConnection } from '../../src/transport/base-connection.js';
import { StreamFrameDecoder } from '../../src/codec/stream-decoder.js';
import { lengthPrefixed } from '../../src/codec/frame-codec.js';
import { FrameTooLargeError, TransportError, toError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { asEvented, connectionInternals, nativeConnection } from './library-internals.js';
import type { ConnectionGuard } from './guards.js';
import type { QuicSettings } from './settings.js';

/** Datagrams taken from quiche's receive queue per received packet, a bound on one loop. */
const MAX_DATAGRAMS_PER_RECV = 64;

export interface QuicConnectionOptions {
  transport: string;
  role: 'client' | 'server';
  connection: QUICConnection;
  guard: ConnectionGuard;
  settings: QuicSettings;
  maxFrameSize: number;
  logger: Logger;
  /** Closes the QUIC connection (CONNECTION_CLOSE with application code 0) and frees what the role owns. */
  shutdown: () => Promise<void>;
}

export class QuicConnection extends BaseConnection {
  private readonly decoder: StreamFrameDecoder;
  private readonly library: QUICConnection;
  private readonly settings: QuicSettings;
  private readonly parentLogger: Logger;
  private childLogger: Logger | null = null;
  private readonly shutdownLibrary: () => Promise<void>;
  private readonly guard: ConnectionGuard;
  private stream: QUICStream | null = null;
  private writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  /** Length-prefixed frames sent before the stream exists (server side only). */
  private heldFrames: Uint8Array[] = [];
  private queuedBytes = 0;
  private reportedCongestion = false;
  private closing = false;
  private shutdownStarted = false;
  private closeTimer: NodeJS.Timeout | null = null;
  private readonly stopListeningForDatagrams: () => void;

  constructor(options: QuicConnectionOptions) {
    const { connection } = options;
    super(options.transport, `${connection.remoteHost}:${connection.remotePort}`, options.maxFrameSize);
    this.decoder = new StreamFrameDecoder(options.maxFrameSize);
    this.library = connection;
    this.settings = options.settings;
    this.parentLogger = options.logger;
    this.shutdownLibrary = options.shutdown;
    this.guard = options.guard;

    const evented = asEvented(connection);
    evented.addEventListener(events.EventQUICConnectionError.name, (event) => this.onConnectionError(event.detail));
    evented.addEventListener(events.EventQUICConnectionStopped.name, () => this.onConnectionStopped(), { once: true });
    this.stopListeningForDatagrams = options.settings.datagrams ? options.guard.onAfterRecv(() => this.drainDatagrams()) : () => {};

    if (options.role === 'client') {
      this.attachStream(connection.newStream('bidi'));
    } else {
      evented.addEventListener(events.EventQUICConnectionStream.name, (event) => this.onPeerStream(event.detail as QUICStream));
    }
    // Peer streams that arrived during the handshake are processed now that the listener exists.
    options.guard.releaseStreams();
    this.drainDatagrams();
  }

  /** A child logger bound to this connection id, created on first use because idle sessions rarely log. */
  private get logger(): Logger {
    this.childLogger ??= this.parentLogger.child({ connection: this.id });
    return this.childLogger;
  }

  get bufferedAmount(): number {
    return this.queuedBytes;
  }

  get congested(): boolean {
    return this.queuedBytes > this.settings.highWaterMark;
  }

  /** The peer's current address; it changes when the peer migrates or its NAT rebinds. */
  get currentRemoteAddress(): string {
    return `${this.library.remoteHost}:${this.library.remotePort}`;
  }

  /** Whether the peer opened streams before the connection finished starting (they were held, then processed). */
  get peerStreamsArrivedEarly(): boolean {
    return this.guard.heldStreams;
  }

  /** Whether the peer accepts DATAGRAM frames, so sendUnreliable() can use them. */
  get datagramsAvailable(): boolean {
    return this.datagramCapacity() !== null;
  }

  send(frame: Uint8Array): void {
    if (this.closed || this.closing) return;
    const bytes = lengthPrefixed(frame);
    this.stats.bytesSent += bytes.length;
    this.stats.writes += 1;
    this.queuedBytes += bytes.length;
    if (this.congested) this.reportedCongestion = true;
    if (this.writer === null) {
      this.heldFrames.push(bytes);
      return;
    }
    this.write(this.writer, bytes);
  }

  override sendUnreliable(frame: Uint8Array): void {
    if (this.closed || this.closing) return;
    const capacity = this.datagramCapacity();
    if (capacity !== null && frame.length <= capacity) {
      try {
        nativeConnection(this.library).dgramSend(frame);
        this.stats.bytesSent += frame.length;
        this.stats.writes += 1;
        void connectionInternals(this.library).send();
        return;
      } catch (error) {
        // quiche reports a full send queue as 'Done'; the frame then takes the stream.
        this.logger.debug({ err: error }, 'QUIC datagram not queued; sending the frame on the stream');
      }
    }
    this.send(frame);
  }

  close(): void {
    if (this.closed || this.closing) return;
    this.closing = true;
    this.closeTimer = setTimeout(() => this.shutdown(), this.settings.closeTimeoutMs);
    this.closeTimer.unref();
    if (this.writer === null) {
      this.shutdown();
      return;
    }
    // FIN goes out after every queued frame. The connection closes once the peer has read up to it
    // and finished its own side (see onPeerFinished), or when the close timer fires.
    this.writer.close().catch((error: unknown) => this.logger.debug({ err: error }, 'closing the QUIC stream failed'));
  }

  destroy(): void {
    this.closing = true;
    this.emitClose();
    this.shutdown();
  }

  private datagramCapacity(): number | null {
    if (!this.settings.datagrams) return null;
    try {
      return nativeConnection(this.library).dgramMaxWritableLen();
    } catch {
      return null;
    }
  }

  private onPeerStream(stream: QUICStream): void {
    // Client-initiated bidirectional stream ids are 0 mod 4 (RFC 9000 section 2.1).
    if (this.stream === null && stream.streamId % 4 === 0) {
      this.attachStream(stream);
      return;
    }
    this.logger.debug({ streamId: stream.streamId }, 'resetting an extra QUIC stream opened by the peer');
    try {
      stream.cancel(new TransportError('TRANSPORT_FAILED', 'pushlab uses one stream per connection'));
    } catch (error) {
      this.logger.debug({ err: error, streamId: stream.streamId }, 'resetting an extra QUIC stream failed');
    }
  }

  private attachStream(stream: QUICStream): void {
    this.stream = stream;
    const writer = stream.writable.getWriter();
    this.writer = writer;
    const heldFrames = this.heldFrames;
    this.heldFrames = [];
    for (const bytes of heldFrames) this.write(writer, bytes);
    if (this.closing) this.writer.close().catch(() => {});
    void this.readLoop(stream.readable.getReader());
  }

  private write(writer: WritableStreamDefaultWriter<Uint8Array>, bytes: Uint8Array): void {
    // The promise settles once quiche has taken every byte into the stream's send buffer, whose size
    // the peer's flow-control window bounds. Until then the bytes count as buffered.
    writer.write(bytes).then(
      () => this.onWritten(bytes.length),
      () => this.onWritten(bytes.length),
    );
  }

  private onWritten(length: number): void {
    this.queuedBytes -= length;
    if (this.reportedCongestion && !this.congested) {
      this.reportedCongestion = false;
      this.emitDrain();
    }
  }

  private async readLoop(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          this.onPeerFinished();
          return;
        }
        let frames: Uint8Array[];
        try {
          frames = this.decoder.push(value);
        } catch (error) {
          // The stream position is lost: stop reading and let the session close with the right code.
          this.emitError(toError(error));
          return;
        }
        for (const frame of frames) this.emitFrame(frame);
      }
    } catch (error) {
      if (this.closed || this.closing) return;
      const failure = error instanceof TransportError ? error : new TransportError('TRANSPORT_FAILED', `QUIC stream of ${this.id} failed: ${toError(error).message}`, { cause: error });
      this.emitClose({ error: failure });
      this.shutdown();
    }
  }

  /** The peer sent FIN: every frame it will send has been read. */
  private onPeerFinished(): void {
    if (this.closing) {
      // Our FIN went out first and the peer replied with its own, so it has read everything.
      this.shutdown();
      return;
    }
    this.closing = true;
    this.emitClose();
    this.writer?.close().catch(() => {});
    // The peer that closed first also closes the QUIC connection; this timer covers a peer that
    // goes away before doing so.
    this.closeTimer = setTimeout(() => this.shutdown(), this.settings.closeTimeoutMs);
    this.closeTimer.unref();
  }

  private drainDatagrams(): void {
    if (this.closed) return;
    const native = nativeConnection(this.library);
    for (let count = 0; count < MAX_DATAGRAMS_PER_RECV; count += 1) {
      let datagram: Uint8Array | null;
      try {
        datagram = native.dgramRecvVec();
      } catch {
        return;
      }
      if (datagram === null) return;
      if (datagram.length > this.maxFrameSize) {
        this.emitError(new FrameTooLargeError(datagram.length, this.maxFrameSize));
        continue;
      }
      if (datagram.length > 0) this.emitFrame(datagram);
    }
  }

  private onConnectionError(detail: unknown): void {
    const error = toError(detail);
    if (this.isOrderlyEnd(error)) {
      this.emitClose();
      return;
    }
    this.logger.debug({ err: error }, 'QUIC connection ended with an error');
    this.emitClose({ error: mapConnectionError(error, this.settings) });
  }

  private isOrderlyEnd(error: Error): boolean {
    if (error instanceof quicErrors.ErrorQUICConnectionLocal && !(error instanceof quicErrors.ErrorQUICConnectionLocalTLS)) {
      return this.closing;
    }
    if (error instanceof quicErrors.ErrorQUICConnectionPeer && !(error instanceof quicErrors.ErrorQUICConnectionPeerTLS)) {
      const data = error.data as { isApp?: boolean; errorCode?: number } | undefined;
      return data?.isApp === true && data.errorCode === 0;
    }
    return false;
  }

  private onConnectionStopped(): void {
    this.emitClose();
    this.shutdown();
  }

  /** Closes the QUIC connection once and releases timers and listeners. */
  private shutdown(): void {
    if (this.shutdownStarted) return;
    this.shutdownStarted = true;
    this.closing = true;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.stopListeningForDatagrams();
    this.heldFrames = [];
    this.shutdownLibrary()
      .catch((error: unknown) => this.logger.debug({ err: error }, 'closing the QUIC connection failed'))
      .finally(() => this.emitClose());
  }
}

/** Maps a library connection error to the TransportError that onClose reports to the session. */
export function mapConnectionError(error: Error, settings: QuicSettings): TransportError {
  if (error instanceof quicErrors.ErrorQUICConnectionIdleTimeout) {
    return new TransportError('TRANSPORT_FAILED', `QUIC idle timeout: no packet from the peer for ${settings.maxIdleTimeoutMs} ms`, { cause: error });
  }
  if (error instanceof quicErrors.ErrorQUICConnectionPeer || error instanceof quicErrors.ErrorQUICConnectionLocal) {
    const data = error.data as { isApp?: boolean; errorCode?: number } | undefined;
    const kind = data?.isApp ? 'application' : 'transport';
    return new TransportError('TRANSPORT_FAILED', `QUIC connection closed with ${kind} error code ${data?.errorCode ?? 'unknown'}: ${error.message}`, { cause: error });
  }
  return new TransportError('TRANSPORT_FAILED', `QUIC connection failed: ${error.message}`, { cause: error });
}
