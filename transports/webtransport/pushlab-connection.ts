// One pushlab connection over one WebTransport session (docs/WEBTRANSPORT.md, "Frame contract").
//
// Reliable frames travel on the one bidirectional stream the client opens, as LEB128 length
// prefix + body (src/codec/stream-decoder.ts). The server learns of that stream with the client's
// first bytes, so frames it sends earlier are held and count towards bufferedAmount. Unreliable
// frames take one datagram each when they fit; otherwise they take the stream and count as
// rerouted. Close: the side that ends the stream first closes the session once it has read the
// peer's FIN, so neither side closes the session while stream data is still in flight.
import { lengthPrefixed } from '../../src/codec/frame-codec.js';
import { StreamFrameDecoder } from '../../src/codec/stream-decoder.js';
import { FrameTooLargeError, PushlabError, TransportError, toError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { BaseConnection } from '../../src/transport/base-connection.js';
import { SessionCloseCode } from './errors.js';
import type { SessionCloseInfo, WebTransportSession } from './session.js';
import type { WebTransportSettings } from './settings.js';
import type { WebTransportStream } from './wt-stream.js';

export interface DatagramStats {
  /** Frames sent as datagrams. */
  sent: number;
  /** Frames received as datagrams. */
  received: number;
  /** Frames sendUnreliable() put on the stream because no datagram could take them. */
  rerouted: number;
}

export interface WebTransportConnectionOptions {
  transport: string;
  role: 'client' | 'server';
  session: WebTransportSession;
  remoteAddress: string;
  maxFrameSize: number;
  settings: WebTransportSettings;
  logger: Logger;
  /** Listener-wide counters that sendUnreliable() reroutes add to. */
  counters?: { unreliableRerouted: number };
  /** Runs once after the session has ended; the client closes its QUIC connection here. */
  onEnded?: () => void;
}

export class WebTransportConnection extends BaseConnection {
  readonly datagramStats: DatagramStats = { sent: 0, received: 0, rerouted: 0 };
  private readonly session: WebTransportSession;
  private readonly decoder: StreamFrameDecoder;
  private readonly settings: WebTransportSettings;
  private readonly parentLogger: Logger;
  private childLogger: Logger | null = null;
  private readonly counters: { unreliableRerouted: number } | undefined;
  private readonly onEnded: (() => void) | undefined;
  private stream: WebTransportStream | null = null;
  /** Length-prefixed frames sent before the client's stream arrived (server side only). */
  private heldFrames: Uint8Array[] = [];
  private queuedBytes = 0;
  private reportedCongestion = false;
  private closing = false;
  private readFailed = false;
  private shutdownStarted = false;
  private closeTimer: NodeJS.Timeout | null = null;

  constructor(options: WebTransportConnectionOptions) {
    super(options.transport, options.remoteAddress, options.maxFrameSize);
    this.session = options.session;
    this.decoder = new StreamFrameDecoder(options.maxFrameSize);
    this.settings = options.settings;
    this.parentLogger = options.logger;
    this.counters = options.counters;
    this.onEnded = options.onEnded;

    this.session.on('bidiStream', (stream) => this.onPeerStream(stream));
    // The contract uses no unidirectional streams.
    this.session.on('uniStream', (stream) => stream.reset(0));
    this.session.on('datagram', (payload) => this.onDatagram(payload));
    this.session.on('close', (info) => this.onSessionClose(info));
    if (options.role === 'client') this.attachStream(this.session.openBidiStream());
  }

  /** Child logger bound to this connection id, created on first use because idle sessions rarely log. */
  private get logger(): Logger {
    this.childLogger ??= this.parentLogger.child({ connection: this.id, session: this.session.id });
    return this.childLogger;
  }

  get bufferedAmount(): number {
    return this.queuedBytes;
  }

  get congested(): boolean {
    return this.queuedBytes > this.settings.quic.highWaterMark;
  }

  /** Largest frame sendUnreliable() sends as a datagram right now; 0 when datagrams are unavailable. */
  get maxDatagramSize(): number {
    return this.session.maxDatagramSize;
  }

  send(frame: Uint8Array): void {
    if (this.closed || this.closing) return;
    const bytes = lengthPrefixed(frame);
    this.stats.bytesSent += bytes.length;
    this.stats.writes += 1;
    this.queuedBytes += bytes.length;
    if (this.congested) this.reportedCongestion = true;
    if (this.stream === null) {
      this.heldFrames.push(bytes);
      return;
    }
    this.write(this.stream, bytes);
  }

  override sendUnreliable(frame: Uint8Array): void {
    if (this.closed || this.closing) return;
    if (this.session.sendDatagram(frame)) {
      this.stats.bytesSent += frame.length;
      this.stats.writes += 1;
      this.datagramStats.sent += 1;
      return;
    }
    this.datagramStats.rerouted += 1;
    if (this.counters !== undefined) this.counters.unreliableRerouted += 1;
    this.send(frame);
  }

  close(): void {
    if (this.closed || this.closing) return;
    this.closing = true;
    this.armCloseTimer();
    if (this.stream === null) {
      this.shutdown(SessionCloseCode.NORMAL, '');
      return;
    }
    // FIN goes out after every queued frame; the session closes once the peer's FIN is read.
    this.stream.finish().catch((error: unknown) => this.logger.debug({ err: error }, 'ending the pushlab stream failed'));
  }

  destroy(): void {
    this.closing = true;
    this.emitClose();
    this.shutdown(SessionCloseCode.DESTROYED, 'destroyed');
  }

  private onPeerStream(stream: WebTransportStream): void {
    if (this.stream === null && !this.closing) {
      this.attachStream(stream);
      return;
    }
    this.logger.debug({ streamId: stream.streamId }, 'resetting an extra WebTransport stream');
    stream.reset(0);
  }

  private attachStream(stream: WebTransportStream): void {
    this.stream = stream;
    const held = this.heldFrames;
    this.heldFrames = [];
    for (const bytes of held) this.write(stream, bytes);
    void this.readLoop(stream);
  }

  private write(stream: WebTransportStream, bytes: Uint8Array): void {
    // The promise settles once quiche has taken the bytes into the stream's send buffer, whose size
    // the peer's flow-control window bounds. Until then the bytes count as buffered.
    stream.write(bytes).then(
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

  private async readLoop(stream: WebTransportStream): Promise<void> {
    try {
      for (;;) {
        const chunk = await stream.read();
        if (chunk === null) {
          this.onPeerFinished();
          return;
        }
        if (this.readFailed) continue;
        let frames: Uint8Array[];
        try {
          frames = this.decoder.push(chunk);
        } catch (error) {
          // The stream position is lost, so no further frame is delivered; the session picks the
          // close code. Reading goes on, discarding bytes, so the peer's FIN still ends the close
          // handshake instead of the close timer.
          this.readFailed = true;
          this.emitError(toError(error));
          continue;
        }
        for (const frame of frames) this.emitFrame(frame);
      }
    } catch (error) {
      if (this.closed || this.shutdownStarted) return;
      const failure = error instanceof PushlabError ? error : new TransportError('TRANSPORT_FAILED', `pushlab stream of ${this.id} failed: ${toError(error).message}`, { cause: error });
      this.emitClose({ error: failure });
      this.shutdown(SessionCloseCode.STREAM_FAILED, 'pushlab stream failed');
    }
  }

  /** The peer sent FIN: every frame it will send has been read. */
  private onPeerFinished(): void {
    if (this.closing) {
      // Our FIN went out first and the peer replied with its own, so it has read everything.
      this.shutdown(SessionCloseCode.NORMAL, '');
      return;
    }
    this.closing = true;
    this.emitClose();
    this.stream?.finish().catch(() => {});
    // The peer closed first, so it closes the session; this timer covers a peer that goes away.
    this.armCloseTimer();
  }

  private onDatagram(payload: Uint8Array): void {
    if (payload.length > this.maxFrameSize) {
      this.emitError(new FrameTooLargeError(payload.length, this.maxFrameSize));
      return;
    }
    if (payload.length === 0) return;
    this.datagramStats.received += 1;
    this.emitFrame(payload);
  }

  private onSessionClose(info: SessionCloseInfo): void {
    if (info.initiator === 'peer') {
      this.emitClose(info.error !== undefined ? { error: info.error } : {});
    }
    this.shutdown(SessionCloseCode.NORMAL, '');
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== null) return;
    this.closeTimer = setTimeout(() => this.shutdown(SessionCloseCode.NORMAL, 'close timed out'), this.settings.quic.closeTimeoutMs);
    this.closeTimer.unref();
  }

  /** Closes the session once (a no-op when it is closed already) and releases timers. */
  private shutdown(code: number, reason: string): void {
    if (this.shutdownStarted) return;
    this.shutdownStarted = true;
    this.closing = true;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.heldFrames = [];
    this.session.close(code, reason);
    this.emitClose();
    try {
      this.onEnded?.();
    } catch (error) {
      this.logger.debug({ err: error }, 'releasing the WebTransport connection failed');
    }
  }
}
