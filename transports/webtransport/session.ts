// One WebTransport session (draft-ietf-webtrans-http3-02): the CONNECT stream that carries its
// capsules, the streams and datagrams tagged with its session id, and its termination.
//
// Termination ("Session Termination" in the draft): an endpoint sends CLOSE_WEBTRANSPORT_SESSION
// (a 32-bit code and a reason of at most 1024 bytes) on the CONNECT stream and then FIN. A FIN
// without the capsule means code 0 and an empty reason; a reset CONNECT stream is an abnormal end.
// Once the session is gone its remaining streams are reset and its datagrams dropped.
import { EventEmitter } from 'node:events';
import type { QUICStream } from '@matrixai/quic';
import { toError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { encodeCloseSessionCapsule, encodeDrainSessionCapsule, type Capsule } from './h3/capsules.js';
import type { WebTransportConnectRequest } from './h3/connect-request.js';
import { H3Error, H3ErrorCode } from './h3/errors.js';
import { encodeDataFrame } from './h3/frames.js';
import { encodeDatagram, encodeWebTransportBidiPrefix, encodeWebTransportUniPrefix } from './h3/settings.js';
import { varintLength } from './h3/varint.js';
import type { ConnectStreamEvent, ConnectStreamReader } from './connect-stream.js';
import { SessionClosedError, StreamAbort } from './errors.js';
import { StreamSource } from './stream-source.js';
import { WebTransportStream } from './wt-stream.js';

/** The methods of the HTTP/3 connection that a session calls. */
export interface SessionOwner {
  /** The peer's current address, host:port. */
  readonly remoteAddress: string;
  openStream(direction: 'bidi' | 'uni'): QUICStream;
  /** Largest QUIC DATAGRAM payload the peer accepts now, or null when HTTP/3 datagrams are off. */
  datagramCapacity(): number | null;
  /** Queues one QUIC DATAGRAM; false when quiche's send queue is full. */
  sendDatagram(bytes: Uint8Array): boolean;
  /** A connection error (RFC 9114 section 8): closes the whole connection with error.h3Code. */
  fail(error: H3Error): void;
  sessionClosed(session: WebTransportSession): void;
}

export interface SessionCloseInfo {
  /** CLOSE_WEBTRANSPORT_SESSION code; 0 for a plain FIN. */
  code: number;
  reason: string;
  initiator: 'local' | 'peer';
  /** Set when the session ended without a close from either side (stream reset, connection lost). */
  error?: Error;
}

export interface WebTransportSessionEvents {
  bidiStream: [stream: WebTransportStream];
  uniStream: [stream: WebTransportStream];
  datagram: [payload: Uint8Array];
  draining: [];
  close: [info: SessionCloseInfo];
}

export interface SessionInit {
  owner: SessionOwner;
  connectStream: QUICStream;
  source: StreamSource;
  reader: ConnectStreamReader;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  /** Events the reader parsed past the HEADERS frame, handled first by start(). */
  initialEvents?: ConnectStreamEvent[];
  /** The validated request on the server; null on the client. */
  request: WebTransportConnectRequest | null;
  logger: Logger;
}

export class WebTransportSession extends EventEmitter<WebTransportSessionEvents> {
  /** The stream id of the CONNECT request. */
  readonly id: number;
  readonly request: WebTransportConnectRequest | null;
  private readonly owner: SessionOwner;
  private readonly source: StreamSource;
  private readonly reader: ConnectStreamReader;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private readonly logger: Logger;
  private readonly streams = new Set<WebTransportStream>();
  private closeInfo: SessionCloseInfo | null = null;
  private peerClose: { code: number; reason: string } | null = null;
  private initialEvents: ConnectStreamEvent[];

  constructor(init: SessionInit) {
    super();
    this.id = init.connectStream.streamId;
    this.request = init.request;
    this.owner = init.owner;
    this.source = init.source;
    this.reader = init.reader;
    this.writer = init.writer;
    this.logger = init.logger.child({ session: this.id });
    this.initialEvents = init.initialEvents ?? [];
  }

  get closed(): boolean {
    return this.closeInfo !== null;
  }

  get remoteAddress(): string {
    return this.owner.remoteAddress;
  }

  /**
   * Largest datagram payload that fits one QUIC DATAGRAM frame after the Quarter Stream ID
   * (RFC 9297 section 2.1); 0 when datagrams are unavailable.
   */
  get maxDatagramSize(): number {
    const capacity = this.owner.datagramCapacity();
    if (capacity === null) return 0;
    return Math.max(0, capacity - varintLength(this.id / 4));
  }

  /** Starts reading capsules from the CONNECT stream. Call once the event listeners are attached. */
  start(): void {
    const initial = this.initialEvents;
    this.initialEvents = [];
    for (const event of initial) this.onEvent(event);
    void this.readConnectStream();
  }

  /** Sends one datagram; false when it does not fit maxDatagramSize or the send queue is full. */
  sendDatagram(payload: Uint8Array): boolean {
    if (this.closed || payload.length > this.maxDatagramSize) return false;
    return this.owner.sendDatagram(encodeDatagram(this.id, payload));
  }

  openBidiStream(): WebTransportStream {
    return this.openStream('bidi');
  }

  openUniStream(): WebTransportStream {
    return this.openStream('uni');
  }

  /** Sends CLOSE_WEBTRANSPORT_SESSION and FIN on the CONNECT stream, then resets the session's streams. */
  close(code = 0, reason = ''): void {
    if (this.closed) return;
    this.writeConnectStream(encodeDataFrame(encodeCloseSessionCapsule(code, reason)));
    this.finishConnectStream();
    this.source.cancel(new StreamAbort(H3ErrorCode.H3_NO_ERROR, 'session closed'));
    this.finalize({ code, reason, initiator: 'local' });
  }

  /** Asks the peer to wind the session down (DRAIN_WEBTRANSPORT_SESSION); the session stays usable. */
  drain(): void {
    if (this.closed) return;
    this.writeConnectStream(encodeDataFrame(encodeDrainSessionCapsule()));
  }

  /** Takes a peer stream whose prefix named this session. */
  acceptStream(stream: QUICStream, source: StreamSource): void {
    const wtStream = new WebTransportStream(stream, source, 'peer');
    const event = wtStream.direction === 'bidi' ? 'bidiStream' : 'uniStream';
    if (this.closed || this.listenerCount(event) === 0) {
      wtStream.reset(0);
      return;
    }
    this.track(wtStream, stream);
    this.emitSafely(event, wtStream);
  }

  receiveDatagram(payload: Uint8Array): void {
    if (this.closed) return;
    this.emitSafely('datagram', payload);
  }

  /** Ends the session because its connection is gone; `error` is null after an orderly connection close. */
  terminate(error: Error | null): void {
    if (error === null) {
      this.finalize({ code: 0, reason: 'connection closed', initiator: 'peer' });
      return;
    }
    this.finalize({ code: 0, reason: error.message, initiator: 'peer', error: new SessionClosedError(null, error.message, { cause: error }) });
  }

  private openStream(direction: 'bidi' | 'uni'): WebTransportStream {
    if (this.closed) throw new SessionClosedError(this.closeInfo!.code, 'cannot open a stream on a closed session');
    const stream = this.owner.openStream(direction);
    const prefix = direction === 'bidi' ? encodeWebTransportBidiPrefix(this.id) : encodeWebTransportUniPrefix(this.id);
    const source = direction === 'bidi' ? new StreamSource(stream) : null;
    const wtStream = new WebTransportStream(stream, source, 'local', prefix);
    this.track(wtStream, stream);
    return wtStream;
  }

  private track(wtStream: WebTransportStream, stream: QUICStream): void {
    this.streams.add(wtStream);
    void stream.closedP.then(() => this.streams.delete(wtStream));
  }

  private async readConnectStream(): Promise<void> {
    try {
      for (;;) {
        const chunk = await this.source.read();
        if (chunk === null) {
          this.reader.finish();
          this.onConnectStreamFinished();
          return;
        }
        for (const event of this.reader.push(chunk)) this.onEvent(event);
      }
    } catch (error) {
      if (this.closed) return;
      if (error instanceof H3Error) {
        this.owner.fail(error);
        return;
      }
      const reason = `CONNECT stream failed: ${toError(error).message}`;
      this.finalize({ code: 0, reason, initiator: 'peer', error: new SessionClosedError(null, reason, { cause: error }) });
    }
  }

  private onEvent(event: ConnectStreamEvent): void {
    // A HEADERS frame after the first is a trailer section; a session has no use for it.
    if (event.type !== 'capsule') return;
    this.logger.debug({ capsule: event.capsule.type, bare: event.bare }, 'capsule received');
    this.onCapsule(event.capsule);
  }

  private onCapsule(capsule: Capsule): void {
    switch (capsule.type) {
      case 'close-session':
        // The FIN that must follow ends the session; anything else after the capsule is an error.
        this.peerClose ??= { code: capsule.code, reason: capsule.message };
        this.finalizeByPeer();
        return;
      case 'drain-session':
        if (!this.closed) this.emitSafely('draining');
        return;
      case 'datagram':
        // DATAGRAM capsules (RFC 9297 section 3.5) carry datagrams where QUIC DATAGRAM frames are unavailable.
        this.receiveDatagram(capsule.payload);
        return;
    }
  }

  private onConnectStreamFinished(): void {
    this.finalizeByPeer();
  }

  private finalizeByPeer(): void {
    if (this.closed) return;
    const { code, reason } = this.peerClose ?? { code: 0, reason: '' };
    this.finishConnectStream();
    this.finalize({ code, reason, initiator: 'peer', ...(code !== 0 ? { error: new SessionClosedError(code, reason) } : {}) });
  }

  private writeConnectStream(bytes: Uint8Array): void {
    this.writer.write(bytes).catch((error: unknown) => this.logger.debug({ err: error }, 'writing to the CONNECT stream failed'));
  }

  private finishConnectStream(): void {
    this.writer.close().catch((error: unknown) => this.logger.debug({ err: error }, 'closing the CONNECT stream failed'));
  }

  private finalize(info: SessionCloseInfo): void {
    if (this.closeInfo !== null) return;
    this.closeInfo = info;
    for (const stream of this.streams) stream.reset(0);
    this.streams.clear();
    this.logger.debug({ code: info.code, reason: info.reason, initiator: info.initiator, err: info.error }, 'WebTransport session closed');
    this.owner.sessionClosed(this);
    this.emitSafely('close', info);
  }

  private emitSafely<Event extends keyof WebTransportSessionEvents>(event: Event, ...args: WebTransportSessionEvents[Event]): void {
    try {
      (this.emit as (event: string, ...values: unknown[]) => boolean)(event, ...args);
    } catch (error) {
      this.logger.error({ err: error, event }, 'WebTransport session listener threw');
    }
  }
}
