// The HTTP/3 connection shared by server and client (RFC 9114): our control stream with SETTINGS,
// our QPACK streams, the peer's streams sorted by type, HTTP/3 datagrams routed to sessions, and
// connection errors. Request handling differs per role (server-connection.ts, client-connection.ts).
import { errors as quicErrors, events, type QUICConnection, type QUICStream } from '@matrixai/quic';
import { toError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { ConnectionGuard } from '../quic/guards.js';
import { asEvented, connectionInternals, nativeConnection } from '../quic/library-internals.js';
import { H3Error, H3ErrorCode } from './h3/errors.js';
import { encodeGoawayFrame, encodeSettingsFrame } from './h3/frames.js';
import { UniStreamType, encodeUniStreamType, parseBidiStreamPrefix, parseDatagram, parseUniStreamPrefix, webTransportSupport, type Settings } from './h3/settings.js';
import { concatBytes } from './h3/varint.js';
import { StreamAbort } from './errors.js';
import { PendingStreams } from './pending-streams.js';
import { readControlStream, readQpackStream } from './peer-streams.js';
import type { SessionOwner, WebTransportSession } from './session.js';
import type { WebTransportSettings } from './settings.js';
import { StreamSource } from './stream-source.js';

/** Datagrams taken from quiche's receive queue per received packet, a bound on one loop. */
const MAX_DATAGRAMS_PER_RECV = 64;

export interface Http3ConnectionOptions {
  role: 'client' | 'server';
  connection: QUICConnection;
  guard: ConnectionGuard;
  localSettings: ReadonlyMap<bigint, bigint>;
  settings: WebTransportSettings;
  logger: Logger;
}

type CriticalStream = 'control' | 'qpack-encoder' | 'qpack-decoder';

export abstract class Http3Connection implements SessionOwner {
  readonly role: 'client' | 'server';
  readonly library: QUICConnection;
  readonly logger: Logger;
  protected readonly settings: WebTransportSettings;
  protected readonly sessions = new Map<number, WebTransportSession>();
  /** The GOAWAY id the peer sent, once it did (RFC 9114 section 5.2). */
  protected goawayReceived: bigint | null = null;
  /** Highest stream id of a bidirectional stream the peer opened; -4 before the first. */
  protected highestPeerBidiStreamId = -4;
  private peerSettingsValue: Settings | null = null;
  private readonly peerSettingsPromise: Promise<Settings>;
  private resolvePeerSettings!: (settings: Settings) => void;
  private rejectPeerSettings!: (error: Error) => void;
  private readonly localWriters: WritableStreamDefaultWriter<Uint8Array>[] = [];
  private readonly peerCritical = new Set<CriticalStream>();
  private readonly pending: PendingStreams;
  private closing = false;
  private endError: Error | null = null;
  private readonly closeListeners: Array<(error: Error | null) => void> = [];
  private readonly stopDatagramListener: () => void;

  constructor(options: Http3ConnectionOptions) {
    this.role = options.role;
    this.library = options.connection;
    this.settings = options.settings;
    this.logger = options.logger;
    this.pending = new PendingStreams(options.settings.handshakeTimeoutMs, this.logger);
    this.peerSettingsPromise = new Promise<Settings>((resolve, reject) => {
      this.resolvePeerSettings = resolve;
      this.rejectPeerSettings = reject;
    });
    this.peerSettingsPromise.catch(() => {});

    const evented = asEvented(this.library);
    evented.addEventListener(events.EventQUICConnectionStream.name, (event) => this.onPeerStream(event.detail as QUICStream));
    evented.addEventListener(events.EventQUICConnectionError.name, (event) => {
      // After close() the library reports our own CONNECTION_CLOSE here; endError is set already.
      if (this.closing) return;
      const error = toError(event.detail);
      if (!isOrderlyPeerClose(error)) this.endError ??= error;
    });
    evented.addEventListener(events.EventQUICConnectionStopped.name, () => this.onStopped(), { once: true });
    this.stopDatagramListener = options.guard.onAfterRecv(() => this.drainDatagrams());

    this.openLocalStreams(options.localSettings);
    // Peer streams that arrived with the handshake are processed now that the listener exists.
    options.guard.releaseStreams();
    this.drainDatagrams();
  }

  get closed(): boolean {
    return this.closing;
  }

  get remoteAddress(): string {
    return `${this.library.remoteHost}:${this.library.remotePort}`;
  }

  /** The id of the peer's last GOAWAY, or null before one arrived. */
  get receivedGoaway(): bigint | null {
    return this.goawayReceived;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Returns the peer's SETTINGS once they arrive. Rejects when the connection ends first; callers bound the wait. */
  peerSettings(): Promise<Settings> {
    return this.peerSettingsPromise;
  }

  /** Registers `listener` for the end of the connection; `error` is null after an orderly close. */
  onClose(listener: (error: Error | null) => void): void {
    this.closeListeners.push(listener);
  }

  openStream(direction: 'bidi' | 'uni'): QUICStream {
    return this.library.newStream(direction);
  }

  datagramCapacity(): number | null {
    if (this.closing || this.peerSettingsValue === null || !webTransportSupport(this.peerSettingsValue).datagrams) return null;
    try {
      return nativeConnection(this.library).dgramMaxWritableLen();
    } catch {
      return null;
    }
  }

  sendDatagram(bytes: Uint8Array): boolean {
    try {
      nativeConnection(this.library).dgramSend(bytes);
    } catch (error) {
      // quiche reports a full send queue as 'Done'.
      this.logger.debug({ err: error }, 'HTTP/3 datagram not queued');
      return false;
    }
    void connectionInternals(this.library).send();
    return true;
  }

  fail(error: H3Error): void {
    if (this.closing) return;
    this.logger.info({ err: error, remote: this.remoteAddress }, 'closing the HTTP/3 connection after a protocol error');
    void this.close(error.h3Code, error.message);
  }

  sessionClosed(session: WebTransportSession): void {
    this.sessions.delete(session.id);
    this.afterSessionClosed(session);
  }

  /** Sends GOAWAY on our control stream (RFC 9114 section 5.2). */
  sendGoaway(id: bigint): void {
    const control = this.localWriters[0];
    if (this.closing || control === undefined) return;
    control.write(encodeGoawayFrame(id)).catch((error: unknown) => this.logger.debug({ err: error }, 'sending GOAWAY failed'));
  }

  /** Closes the QUIC connection with an HTTP/3 application error code (H3_NO_ERROR by default). */
  async close(h3Code: number = H3ErrorCode.H3_NO_ERROR, reason = ''): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.endError ??= h3Code === H3ErrorCode.H3_NO_ERROR ? null : new H3Error(h3Code as H3ErrorCode, reason);
    await this.library
      .stop({ isApp: true, errorCode: h3Code, reason: Buffer.from(reason.slice(0, 256)), force: true })
      .catch((error: unknown) => this.logger.debug({ err: error }, 'stopping the QUIC connection failed'));
  }

  /** Server: a client-initiated bidirectional stream that is not a WebTransport stream, i.e. a request. */
  protected abstract onRequestStream(stream: QUICStream, source: StreamSource): void;

  /** A hook for subclasses, called after a session left the connection. */
  protected afterSessionClosed(_session: WebTransportSession): void {}

  protected registerSession(session: WebTransportSession): void {
    this.sessions.set(session.id, session);
  }

  /** Hands streams that arrived before their session to it, once it has its listeners. */
  protected releasePendingStreams(session: WebTransportSession): void {
    for (const { stream, source } of this.pending.take(session.id)) session.acceptStream(stream, source);
  }

  /** Resets streams held for a session id whose request was rejected. */
  protected rejectPendingStreams(sessionId: number): void {
    this.pending.reject(sessionId);
  }

  protected onGoaway(id: bigint): void {
    if (this.role === 'client') {
      // RFC 9114 section 5.2: a server's GOAWAY carries a client-initiated bidirectional stream id
      // and never grows.
      if (id % 4n !== 0n) throw new H3Error(H3ErrorCode.H3_ID_ERROR, `GOAWAY id ${id} is not a client-initiated bidirectional stream id`);
      if (this.goawayReceived !== null && id > this.goawayReceived) throw new H3Error(H3ErrorCode.H3_ID_ERROR, `GOAWAY id grew from ${this.goawayReceived} to ${id}`);
    }
    this.goawayReceived = id;
    this.logger.debug({ id: id.toString() }, 'GOAWAY received');
  }

  private openLocalStreams(localSettings: ReadonlyMap<bigint, bigint>): void {
    // RFC 9114 section 6.2.1: the control stream starts with SETTINGS. RFC 9204 section 4.2: each
    // endpoint opens one encoder and one decoder stream, which stay silent with a table capacity of 0.
    const streams: Array<[bigint, Uint8Array]> = [
      [UniStreamType.CONTROL, encodeSettingsFrame(localSettings)],
      [UniStreamType.QPACK_ENCODER, new Uint8Array(0)],
      [UniStreamType.QPACK_DECODER, new Uint8Array(0)],
    ];
    try {
      for (const [type, body] of streams) {
        const writer = this.library.newStream('uni').writable.getWriter();
        this.localWriters.push(writer);
        writer.write(concatBytes([encodeUniStreamType(type), body])).catch((error: unknown) => this.logger.debug({ err: error }, 'writing a critical stream failed'));
      }
    } catch (error) {
      this.fail(new H3Error(H3ErrorCode.H3_GENERAL_PROTOCOL_ERROR, `could not open the control and QPACK streams (the peer allows too few unidirectional streams): ${toError(error).message}`));
    }
  }

  private onPeerStream(stream: QUICStream): void {
    const source = new StreamSource(stream);
    const unidirectional = (stream.streamId & 0x2) !== 0;
    if (!unidirectional) this.highestPeerBidiStreamId = Math.max(this.highestPeerBidiStreamId, stream.streamId);
    const task = unidirectional ? this.classifyUni(stream, source) : this.classifyBidi(stream, source);
    task.catch((error: unknown) => this.onStreamFailure(stream.streamId, error));
  }

  private async classifyBidi(stream: QUICStream, source: StreamSource): Promise<void> {
    const prefix = await source.readPrefix(parseBidiStreamPrefix);
    if (prefix === null) return;
    if (prefix.kind === 'webtransport') {
      this.routeToSession(prefix.sessionId, stream, source);
      return;
    }
    // RFC 9114 section 6.1: a server-initiated bidirectional stream is an error unless an
    // extension (here WebTransport) defines it.
    if (this.role === 'client') throw new H3Error(H3ErrorCode.H3_STREAM_CREATION_ERROR, `server-initiated bidirectional stream ${stream.streamId} is not a WebTransport stream`);
    this.onRequestStream(stream, source);
  }

  private async classifyUni(stream: QUICStream, source: StreamSource): Promise<void> {
    const prefix = await source.readPrefix(parseUniStreamPrefix);
    if (prefix === null) return;
    switch (prefix.kind) {
      case 'control':
      case 'qpack-encoder':
      case 'qpack-decoder':
        // RFC 9114 section 6.2.1 and RFC 9204 section 4.2: at most one of each.
        if (this.peerCritical.has(prefix.kind)) throw new H3Error(H3ErrorCode.H3_STREAM_CREATION_ERROR, `second ${prefix.kind} stream from the peer`);
        this.peerCritical.add(prefix.kind);
        if (prefix.kind === 'control') {
          await readControlStream(source, {
            onSettings: (settings) => this.onPeerSettings(settings),
            onGoaway: (id) => this.onGoaway(id),
            onMaxPushId: () => {
              if (this.role === 'client') throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, 'MAX_PUSH_ID from a server');
            },
          });
        } else {
          await readQpackStream(source, prefix.kind);
        }
        return;
      case 'push':
        // RFC 9114 section 6.2.2: only servers push, and only up to a MAX_PUSH_ID we never send.
        throw new H3Error(this.role === 'server' ? H3ErrorCode.H3_STREAM_CREATION_ERROR : H3ErrorCode.H3_ID_ERROR, 'push stream received, but push is not enabled');
      case 'webtransport':
        this.routeToSession(prefix.sessionId, stream, source);
        return;
      case 'unknown':
        // RFC 9114 section 6.2: unknown stream types (GREASE included) are read no further.
        source.cancel(new StreamAbort(H3ErrorCode.H3_STREAM_CREATION_ERROR, `unknown stream type 0x${prefix.streamType.toString(16)}`));
        return;
    }
  }

  private routeToSession(sessionId: number, stream: QUICStream, source: StreamSource): void {
    const session = this.sessions.get(sessionId);
    if (session !== undefined) {
      session.acceptStream(stream, source);
      return;
    }
    // The stream may overtake the CONNECT request or its response; hold it for a while.
    this.pending.hold(sessionId, stream, source);
  }

  private onPeerSettings(settings: Settings): void {
    this.peerSettingsValue = settings;
    this.resolvePeerSettings(settings);
  }

  private drainDatagrams(): void {
    if (this.closing) return;
    const native = nativeConnection(this.library);
    for (let count = 0; count < MAX_DATAGRAMS_PER_RECV; count += 1) {
      let datagram: Uint8Array | null;
      try {
        datagram = native.dgramRecvVec();
      } catch {
        return;
      }
      if (datagram === null) return;
      let parsed: ReturnType<typeof parseDatagram>;
      try {
        parsed = parseDatagram(datagram);
      } catch (error) {
        this.fail(error as H3Error);
        return;
      }
      // RFC 9297 section 2.1: datagrams for an unknown session may be dropped.
      if (parsed !== null) this.sessions.get(parsed.sessionId)?.receiveDatagram(parsed.payload);
    }
  }

  private onStreamFailure(streamId: number, error: unknown): void {
    if (this.closing) return;
    if (error instanceof H3Error) {
      this.fail(error);
      return;
    }
    this.logger.debug({ err: error, streamId }, 'peer stream ended before it could be classified');
  }

  private onStopped(): void {
    this.closing = true;
    this.stopDatagramListener();
    this.pending.clear();
    this.rejectPeerSettings(this.endError ?? new H3Error(H3ErrorCode.H3_NO_ERROR, 'connection closed'));
    for (const session of [...this.sessions.values()]) session.terminate(this.endError);
    this.sessions.clear();
    for (const listener of this.closeListeners) {
      try {
        listener(this.endError);
      } catch (listenerError) {
        this.logger.error({ err: listenerError }, 'HTTP/3 close listener threw');
      }
    }
  }
}

/** Returns true for a peer CONNECTION_CLOSE with application code H3_NO_ERROR, or 0, which some stacks send. */
function isOrderlyPeerClose(error: Error): boolean {
  if (!(error instanceof quicErrors.ErrorQUICConnectionPeer) || error instanceof quicErrors.ErrorQUICConnectionPeerTLS) return false;
  const data = error.data as { isApp?: boolean; errorCode?: number } | undefined;
  return data?.isApp === true && (data.errorCode === H3ErrorCode.H3_NO_ERROR || data.errorCode === 0);
}
