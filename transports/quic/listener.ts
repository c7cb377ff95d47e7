// Server side of the QUIC transport: a QUICServer on a GuardedQuicSocket.
import { QUICServer, events, type QUICConnection } from '@matrixai/quic';
import { TransportError, toError } from '../../src/errors.js';
import type { ListenOptions, TransportAddress, TransportConnection, TransportListener } from '../../src/transport/types.js';
import { QuicConnection } from './connection.js';
import { GuardedQuicSocket, type AcceptQueueStats } from './guarded-socket.js';
import { guardEventErrors, installConnectionGuard } from './guards.js';
import { serverConfig, streamCodeToReason } from './library-config.js';
import { asEvented } from './library-internals.js';
import { libraryLogger } from './log-adapter.js';
import { retryTokenCrypto } from './security.js';
import { quicSettings } from './settings.js';

/** Time close() leaves the socket open for CONNECTION_CLOSE frames and their acknowledgements. */
const LISTENER_CLOSE_GRACE_MS = 200;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export class QuicListener implements TransportListener {
  private readonly connections = new Set<QuicConnection>();
  private closing: Promise<void> | null = null;

  constructor(
    readonly transport: string,
    readonly address: TransportAddress,
    private readonly server: QUICServer,
    private readonly socket: GuardedQuicSocket,
  ) {}

  /** Counters of the accept-race fix, for tests and reports. */
  get acceptStats(): AcceptQueueStats {
    return this.socket.acceptStats;
  }

  /** Connections accepted and not yet closed. */
  get connectionCount(): number {
    return this.connections.size;
  }

  track(connection: QuicConnection, library: QUICConnection): void {
    this.connections.add(connection);
    asEvented(library).addEventListener(events.EventQUICConnectionStopped.name, () => this.connections.delete(connection), { once: true });
  }

  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    for (const connection of this.connections) connection.destroy();
    this.connections.clear();
    // QUICServer.stop() resolves only after every connection's closing period of three probe
    // timeouts (RFC 9000 section 10.2), which is 3 s for a connection stopped before its first RTT
    // sample. The CONNECTION_CLOSE frames leave at once, so the socket closes after a short grace
    // and the library finishes its timers in the background.
    const serverStopped = this.server.stop({ isApp: true, errorCode: 0, force: true }).catch(() => {});
    await Promise.race([serverStopped, delay(LISTENER_CLOSE_GRACE_MS)]);
    await this.socket.stop({ force: true }).catch(() => {});
  }
}

export async function listenQuic(transport: string, options: ListenOptions, onConnection: (connection: TransportConnection) => void): Promise<QuicListener> {
  if (!options.tls) throw new TransportError('TRANSPORT_FAILED', `transport "${transport}" needs TLS material (cert and key): QUIC always uses TLS 1.3`);
  const settings = quicSettings('server', options.settings);
  const logger = options.logger.child({ transport });
  const quicLogger = libraryLogger(logger);

  const socket = new GuardedQuicSocket({ libraryLogger: quicLogger, logger, udpBufferBytes: settings.udpBufferBytes });
  try {
    await socket.start({ host: options.host, port: options.port });
  } catch (error) {
    throw new TransportError('TRANSPORT_FAILED', `${transport} listener could not bind ${options.host}:${options.port}: ${toError(error).message}`, { cause: error });
  }

  const server = new QUICServer({
    crypto: retryTokenCrypto(),
    config: serverConfig(settings, options.tls),
    socket,
    // Bounds the handshake of each accepted connection, so a client that vanishes mid-handshake
    // does not hold server state until the idle timeout.
    minIdleTimeout: settings.connectTimeoutMs,
    codeToReason: streamCodeToReason,
    logger: quicLogger,
  });
  guardEventErrors(server, (error) => logger.warn({ err: error }, 'QUIC server error inside the library'));
  const listener = new QuicListener(transport, { host: socket.host, port: socket.port }, server, socket);

  asEvented(server).addEventListener(events.EventQUICServerConnection.name, (event) => {
    const library = event.detail as QUICConnection;
    const connection = new QuicConnection({
      transport,
      role: 'server',
      connection: library,
      guard: installConnectionGuard(library, logger),
      settings,
      maxFrameSize: options.maxFrameSize,
      logger,
      shutdown: () => library.stop({ isApp: true, errorCode: 0, force: true }),
    });
    listener.track(connection, library);
    logger.debug({ connection: connection.id, remote: connection.remoteAddress }, 'QUIC connection accepted');
    try {
      onConnection(connection);
    } catch (error) {
      logger.error({ err: error, connection: connection.id }, 'connection handler threw; destroying the connection');
      connection.destroy();
    }
  });

  try {
    await server.start();
  } catch (error) {
    await socket.stop({ force: true }).catch(() => {});
    throw new TransportError('TRANSPORT_FAILED', `${transport} listener failed to start: ${toError(error).message}`, { cause: error });
  }
  logger.info({ host: listener.address.host, port: listener.address.port }, 'QUIC listener started');
  return listener;
}
