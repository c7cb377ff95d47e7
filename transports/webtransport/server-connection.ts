// Server side of an HTTP/3 connection: request streams, extended CONNECT routing by :path, origin
// and session-count checks, GOAWAY on shutdown.
//
// Responses: 200 opens the session; 404 for a path without a route; 403 for a rejected origin; 429
// above maxSessionsPerConnection; 400 when the client's SETTINGS lack WebTransport; 405 for any
// method but CONNECT. A request that breaks HTTP/3 field rules is malformed and its stream is reset
// with H3_MESSAGE_ERROR (RFC 9114 section 4.1.2); QPACK and framing errors close the connection.
import type { QUICStream } from '@matrixai/quic';
import { toError } from '../../src/errors.js';
import { validateWebTransportConnect, webTransportResponseFields, type WebTransportConnectRequest } from './h3/connect-request.js';
import { H3Error, H3ErrorCode } from './h3/errors.js';
import { encodeHeadersFrame } from './h3/frames.js';
import { decodeFieldSection, encodeFieldSection, type HeaderField } from './h3/qpack.js';
import { serverSettings, webTransportSupport } from './h3/settings.js';
import { ConnectStreamReader } from './connect-stream.js';
import { StreamAbort } from './errors.js';
import { Http3Connection, type Http3ConnectionOptions } from './h3-connection.js';
import type { OriginDecision } from './origin.js';
import { WebTransportSession } from './session.js';
import type { StreamSource } from './stream-source.js';
import { withTimeout } from './timeout.js';

/** Handles a new session; attach listeners synchronously, before streams and capsules are delivered. */
export type SessionRoute = (session: WebTransportSession) => void;

/** Counters of one listener, shared by its connections. */
export interface WebTransportServerStats {
  sessionsAccepted: number;
  /** Requests rejected with a status other than 200. */
  sessionsRejected: number;
  /** Request streams reset: malformed, incomplete in time, or after GOAWAY. */
  requestsReset: number;
  /** Connections closed because the peer broke HTTP/3, QPACK or WebTransport framing. */
  protocolErrors: number;
  /** Frames that sendUnreliable() sent on the stream because no datagram could take them. */
  unreliableRerouted: number;
}

export function emptyServerStats(): WebTransportServerStats {
  return { sessionsAccepted: 0, sessionsRejected: 0, requestsReset: 0, protocolErrors: 0, unreliableRerouted: 0 };
}

export interface Http3ServerConnectionOptions extends Omit<Http3ConnectionOptions, 'role' | 'localSettings'> {
  routes: ReadonlyMap<string, SessionRoute>;
  checkOrigin: (origin: string | undefined) => OriginDecision;
  stats: WebTransportServerStats;
}

export class Http3ServerConnection extends Http3Connection {
  private readonly routes: ReadonlyMap<string, SessionRoute>;
  private readonly checkOrigin: (origin: string | undefined) => OriginDecision;
  private readonly stats: WebTransportServerStats;
  private goawaySent: bigint | null = null;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(options: Http3ServerConnectionOptions) {
    super({ ...options, role: 'server', localSettings: serverSettings({ maxSessions: options.settings.maxSessionsPerConnection }) });
    this.routes = options.routes;
    this.checkOrigin = options.checkOrigin;
    this.stats = options.stats;
    // A connection that opens no session (a client that never sends a CONNECT) is closed instead
    // of waiting for the idle timeout.
    this.armIdleTimer(options.settings.handshakeTimeoutMs);
    this.onClose(() => this.disarmIdleTimer());
  }

  /** Whether GOAWAY went out; requests on streams at or above its id are rejected. */
  get goingAway(): boolean {
    return this.goawaySent !== null;
  }

  /**
   * Starts a graceful shutdown: GOAWAY with the first client stream id not processed (RFC 9114
   * section 5.2), and DRAIN_WEBTRANSPORT_SESSION on every session, which clients that know the
   * capsule report as draining.
   */
  shutdown(): void {
    if (this.goawaySent !== null || this.closed) return;
    this.goawaySent = BigInt(this.highestPeerBidiStreamId + 4);
    this.sendGoaway(this.goawaySent);
    for (const session of this.sessions.values()) session.drain();
  }

  /** Closes every session with `code`, then the connection with H3_NO_ERROR. */
  async closeAll(code: number, reason: string): Promise<void> {
    for (const session of [...this.sessions.values()]) session.close(code, reason);
    await this.close();
  }

  override fail(error: H3Error): void {
    // The base constructor may fail before this class has set its fields.
    if (this.stats !== undefined && !this.closed) this.stats.protocolErrors += 1;
    super.fail(error);
  }

  protected onRequestStream(stream: QUICStream, source: StreamSource): void {
    this.handleRequest(stream, source).catch((error: unknown) => {
      if (this.closed) return;
      if (error instanceof H3Error) {
        this.fail(error);
        return;
      }
      this.resetRequest(stream, source, H3ErrorCode.H3_REQUEST_INCOMPLETE, toError(error).message);
    });
  }

  protected override afterSessionClosed(): void {
    // Browsers open one connection per session; close it soon after its last session ended,
    // unless the client does so first.
    if (this.sessions.size === 0) this.armIdleTimer(this.settings.quic.closeTimeoutMs);
  }

  private async handleRequest(stream: QUICStream, source: StreamSource): Promise<void> {
    const reader = new ConnectStreamReader({ maxFieldSectionSize: this.settings.maxFieldSectionSize });
    const fields = await this.readRequestFields(stream, source, reader);
    if (fields === null) return;

    const writer = stream.writable.getWriter();
    const method = fields.find((field) => field.name === ':method')?.value;
    if (method !== undefined && method !== 'CONNECT') {
      this.reject(stream, source, writer, 405, `method ${method} is not supported`);
      return;
    }
    const request = validateWebTransportConnect(fields);
    if (request instanceof H3Error) {
      this.resetRequest(stream, source, request.h3Code, request.message);
      return;
    }

    const decision = await this.admit(request);
    if ('status' in decision) {
      this.reject(stream, source, writer, decision.status, decision.reason, request);
      return;
    }
    this.accept(stream, source, writer, reader, request, decision.route);
  }

  /** Reads and decodes the request HEADERS; returns null after resetting a request it will not serve. */
  private async readRequestFields(stream: QUICStream, source: StreamSource, reader: ConnectStreamReader): Promise<HeaderField[] | null> {
    const fieldSection = await withTimeout(reader.nextHeaders(source), this.settings.handshakeTimeoutMs, 'the request HEADERS');
    if (fieldSection === null) {
      this.resetRequest(stream, source, H3ErrorCode.H3_REQUEST_INCOMPLETE, 'request stream ended before HEADERS');
      return null;
    }
    // RFC 9204 section 2.2: a field section that does not decode is a connection error.
    const fields = decodeFieldSection(fieldSection, { maxFieldSectionSize: this.settings.maxFieldSectionSize });
    if (this.goawaySent !== null && BigInt(stream.streamId) >= this.goawaySent) {
      this.resetRequest(stream, source, H3ErrorCode.H3_REQUEST_REJECTED, 'request after GOAWAY');
      return null;
    }
    return fields;
  }

  /** Picks the route for a valid CONNECT, or the status and reason to reject it with. */
  private async admit(request: WebTransportConnectRequest): Promise<{ route: SessionRoute } | { status: number; reason: string }> {
    const peerSettings = await withTimeout(this.peerSettings(), this.settings.handshakeTimeoutMs, "the client's SETTINGS");
    const support = webTransportSupport(peerSettings);
    if (!support.supported) return { status: 400, reason: `client SETTINGS lack ${support.missing.join(' and ')}` };

    const pathname = request.path.split('?')[0]!;
    const route = this.routes.get(pathname);
    if (route === undefined) return { status: 404, reason: `no WebTransport endpoint at ${pathname}` };

    const origin = this.checkOrigin(request.origin);
    if (!origin.allowed) return { status: 403, reason: origin.reason };

    if (this.sessions.size >= this.settings.maxSessionsPerConnection) {
      return { status: 429, reason: `the connection already carries ${this.sessions.size} sessions` };
    }
    return { route };
  }

  private accept(stream: QUICStream, source: StreamSource, writer: WritableStreamDefaultWriter<Uint8Array>, reader: ConnectStreamReader, request: WebTransportConnectRequest, route: SessionRoute): void {
    const session = new WebTransportSession({ owner: this, connectStream: stream, source, reader, writer, initialEvents: reader.takeQueued(), request, logger: this.logger });
    // Registered before the response leaves, so streams and datagrams the client sends as soon as
    // it reads the 200 find the session.
    this.registerSession(session);
    this.disarmIdleTimer();
    writer.write(encodeHeadersFrame(encodeFieldSection(webTransportResponseFields(200, request)))).catch(() => {});
    this.stats.sessionsAccepted += 1;
    this.logger.debug({ session: session.id, path: request.path, origin: request.origin, remote: this.remoteAddress }, 'WebTransport session accepted');
    try {
      route(session);
    } catch (error) {
      this.logger.error({ err: error, session: session.id }, 'WebTransport route handler threw; closing the session');
      session.close(1, 'server error');
      return;
    }
    this.releasePendingStreams(session);
    session.start();
  }

  private reject(stream: QUICStream, source: StreamSource, writer: WritableStreamDefaultWriter<Uint8Array>, status: number, reason: string, request?: WebTransportConnectRequest): void {
    this.stats.sessionsRejected += 1;
    this.logger.info({ status, reason, path: request?.path, origin: request?.origin, remote: this.remoteAddress }, 'WebTransport session rejected');
    writer.write(encodeHeadersFrame(encodeFieldSection(webTransportResponseFields(status, request)))).catch(() => {});
    writer.close().catch(() => {});
    // RFC 9114 section 4.1.1: with the response complete, the server may stop reading the request
    // with H3_NO_ERROR.
    source.cancel(new StreamAbort(H3ErrorCode.H3_NO_ERROR, 'response complete'));
    this.rejectPendingStreams(stream.streamId);
  }

  private resetRequest(stream: QUICStream, source: StreamSource, code: number, reason: string): void {
    this.stats.requestsReset += 1;
    this.logger.info({ streamId: stream.streamId, code: `0x${code.toString(16)}`, reason, remote: this.remoteAddress }, 'HTTP/3 request stream reset');
    const abort = new StreamAbort(code, reason);
    source.cancel(abort);
    stream.cancel(abort);
    this.rejectPendingStreams(stream.streamId);
  }

  private armIdleTimer(delayMs: number): void {
    this.disarmIdleTimer();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.sessions.size === 0 && !this.closed) void this.close(H3ErrorCode.H3_NO_ERROR, 'no WebTransport session');
    }, delayMs);
    this.idleTimer.unref();
  }

  private disarmIdleTimer(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}
