// Server side of the WebTransport transport: a QUICServer on the QUIC transport's GuardedQuicSocket
// (the accept-race fix that Chromium's two-packet ClientHello needs), an HTTP/3 connection per
// QUIC connection, and the pushlab route at settings.path.
import { QUICServer, events, type QUICConnection } from '@matrixai/quic';
import type { Clock } from '../../src/clock.js';
import { TransportError, toError } from '../../src/errors.js';
import type { ListenOptions, TransportAddress, TransportConnection, TransportListener } from '../../src/transport/types.js';
import { GuardedQuicSocket, type AcceptQueueStats } from '../quic/guarded-socket.js';
import { guardEventErrors, installConnectionGuard } from '../quic/guards.js';
import { asEvented } from '../quic/library-internals.js';
import { libraryLogger } from '../quic/log-adapter.js';
import { retryTokenCrypto } from '../quic/security.js';
import { ListenerCertificates } from './certificates.js';
import { H3ErrorCode } from './h3/errors.js';
import { SessionCloseCode, streamCodeToReason, streamReasonToCode } from './errors.js';
import { originPolicy } from './origin.js';
import { WebTransportConnection } from './pushlab-connection.js';
import { serverConfig } from './quic-config.js';
import { Http3ServerConnection, emptyServerStats, type SessionRoute, type WebTransportServerStats } from './server-connection.js';
import { webTransportSettings, type CertificateHash, type WebTransportSettings } from './settings.js';

/** Time close() leaves the socket open for CONNECTION_CLOSE frames and their acknowledgements. */
const SOCKET_CLOSE_GRACE_MS = 200;
/** Poll interval while close() waits for sessions to finish. */
const SHUTDOWN_POLL_MS = 20;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export class WebTransportListener implements TransportListener {
  /** Counters since the listener started; sendUnreliable() reroutes are summed here too. */
  readonly stats: WebTransportServerStats = emptyServerStats();

  /** The same counters under the name the gateway's metrics read. */
  get counters(): object {
    return this.stats;
  }
  private readonly connections = new Set<Http3ServerConnection>();
  private readonly pushConnections = new Set<WebTransportConnection>();
  private closing: Promise<void> | null = null;
  private server!: QUICServer;

  constructor(
    readonly transport: string,
    readonly address: TransportAddress,
    private readonly socket: GuardedQuicSocket,
    private readonly settings: WebTransportSettings,
    readonly certificates: ListenerCertificates,
  ) {}

  /** Settings a client needs to dial: the session path and the certificate hashes to pin (docs/WEBTRANSPORT.md). */
  get clientSettings(): { path: string; certificateHashes: CertificateHash[] } {
    return { path: this.settings.path, certificateHashes: this.certificates.hashes() };
  }

  /** Counters of the accept-race fix. */
  get acceptStats(): AcceptQueueStats {
    return this.socket.acceptStats;
  }

  /** HTTP/3 connections open now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Pushlab connections open now. */
  get sessionCount(): number {
    return this.pushConnections.size;
  }

  get isClosing(): boolean {
    return this.closing !== null;
  }

  attach(server: QUICServer): void {
    this.server = server;
  }

  trackConnection(connection: Http3ServerConnection): void {
    this.connections.add(connection);
    connection.onClose(() => this.connections.delete(connection));
  }

  trackSession(connection: WebTransportConnection, session: { on(event: 'close', listener: () => void): unknown }): void {
    this.pushConnections.add(connection);
    session.on('close', () => this.pushConnections.delete(connection));
  }

  /**
   * Shuts down gracefully: GOAWAY and DRAIN_WEBTRANSPORT_SESSION on every connection, up to
   * shutdownGraceMs for the sessions to close (the gateway closes them with GOING_AWAY first),
   * then CLOSE_WEBTRANSPORT_SESSION code 2 for the rest and CONNECTION_CLOSE.
   */
  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    for (const connection of this.connections) connection.shutdown();
    const deadline = Date.now() + this.settings.shutdownGraceMs;
    while (this.pushConnections.size > 0 && Date.now() < deadline) await delay(SHUTDOWN_POLL_MS);
    this.certificates.stop();
    // Stopping a connection, and QUICServer.stop() for all of them, can wait for the closing
    // period of three probe timeouts (RFC 9000 section 10.2). The capsules and CONNECTION_CLOSE
    // frames leave at once, so the socket closes after a short grace instead.
    const connectionsClosed = Promise.all([...this.connections].map((connection) => connection.closeAll(SessionCloseCode.GOING_AWAY, 'server shutting down')));
    await Promise.race([connectionsClosed, delay(SOCKET_CLOSE_GRACE_MS)]);
    const serverStopped = this.server.stop({ isApp: true, errorCode: H3ErrorCode.H3_NO_ERROR, force: true }).catch(() => {});
    await Promise.race([serverStopped, delay(SOCKET_CLOSE_GRACE_MS)]);
    await this.socket.stop({ force: true }).catch(() => {});
  }
}

export async function listenWebTransport(transport: string, options: ListenOptions, onConnection: (connection: TransportConnection) => void, clock?: Clock): Promise<WebTransportListener> {
  const settings = webTransportSettings('server', options.settings);
  // The gateway's logger already carries the transport name; bind it only when missing.
  const logger = 'transport' in options.logger.bindings() ? options.logger : options.logger.child({ transport });
  const quicLogger = libraryLogger(logger);
  const certificates = await ListenerCertificates.create({ tls: options.tls, mode: settings.certificateManager, logger, ...(clock ? { clock } : {}) });

  const socket = new GuardedQuicSocket({ libraryLogger: quicLogger, logger, udpBufferBytes: settings.quic.udpBufferBytes });
  try {
    await socket.start({ host: options.host, port: options.port });
  } catch (error) {
    certificates.stop();
    throw new TransportError('TRANSPORT_FAILED', `${transport} listener could not bind ${options.host}:${options.port}: ${toError(error).message}`, { cause: error });
  }
  const listener = new WebTransportListener(transport, { host: socket.host, port: socket.port }, socket, settings, certificates);

  const server = new QUICServer({
    crypto: retryTokenCrypto(),
    config: serverConfig(settings, certificates.serving()),
    socket,
    // Bounds the handshake of each accepted connection.
    minIdleTimeout: settings.quic.connectTimeoutMs,
    reasonToCode: streamReasonToCode,
    codeToReason: streamCodeToReason,
    logger: quicLogger,
  });
  listener.attach(server);
  guardEventErrors(server, (error) => logger.warn({ err: error }, 'QUIC server error inside the library'));
  // Only the switch changes what the server presents: a certificate that was just issued is
  // published for pinning first, and serves once the current one expires.
  certificates.on('serving', (tls) => {
    server.updateConfig({ key: tls.key, cert: tls.cert });
    logger.info('new WebTransport connections get the next certificate');
  });

  const pushlabRoute: SessionRoute = (session) => {
    const connection = new WebTransportConnection({
      transport,
      role: 'server',
      session,
      remoteAddress: session.remoteAddress,
      maxFrameSize: options.maxFrameSize,
      settings,
      logger,
      counters: listener.stats,
    });
    listener.trackSession(connection, session);
    try {
      onConnection(connection);
    } catch (error) {
      logger.error({ err: error, connection: connection.id }, 'connection handler threw; destroying the connection');
      connection.destroy();
    }
  };
  const routes = new Map<string, SessionRoute>([[settings.path, pushlabRoute]]);
  const checkOrigin = originPolicy(settings.allowedOrigins);

  asEvented(server).addEventListener(events.EventQUICServerConnection.name, (event) => {
    const library = event.detail as QUICConnection;
    const connection = new Http3ServerConnection({ connection: library, guard: installConnectionGuard(library, logger), settings, logger, routes, checkOrigin, stats: listener.stats });
    listener.trackConnection(connection);
    logger.debug({ remote: connection.remoteAddress }, 'HTTP/3 connection accepted');
    if (listener.isClosing) connection.shutdown();
  });

  try {
    await server.start();
  } catch (error) {
    certificates.stop();
    await socket.stop({ force: true }).catch(() => {});
    throw new TransportError('TRANSPORT_FAILED', `${transport} listener failed to start: ${toError(error).message}`, { cause: error });
  }
  logger.info({ host: listener.address.host, port: listener.address.port, path: settings.path }, 'WebTransport listener started');
  return listener;
}
