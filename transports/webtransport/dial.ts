// Node client of the WebTransport transport: QUIC with ALPN h3 on its own GuardedQuicSocket, the
// HTTP/3 SETTINGS exchange, an extended CONNECT to settings.path, then the pushlab stream.
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { QUICClient, errors as quicErrors } from '@matrixai/quic';
import { PushlabError, TransportError, toError } from '../../src/errors.js';
import type { DialOptions } from '../../src/transport/types.js';
import { GuardedQuicSocket } from '../quic/guarded-socket.js';
import { connectionGuard, guardEventErrors, installConnectionGuard } from '../quic/guards.js';
import { expectedServerName } from '../quic/library-config.js';
import { libraryLogger } from '../quic/log-adapter.js';
import { clientCryptoOps } from '../quic/security.js';
import { Http3ClientConnection } from './client-connection.js';
import { streamCodeToReason, streamReasonToCode } from './errors.js';
import { H3ErrorCode } from './h3/errors.js';
import { WebTransportConnection } from './pushlab-connection.js';
import { clientConfig } from './quic-config.js';
import type { WebTransportSession } from './session.js';
import { webTransportSettings, type WebTransportSettings } from './settings.js';

/** A QUICClient whose internal errors are logged and end the client instead of the process. */
class GuardedQuicClient extends QUICClient {
  constructor(options: ConstructorParameters<typeof QUICClient>[0]) {
    super(options);
    guardEventErrors(this, (error) => {
      this.logger.warn(`QUIC client failed inside the library; destroying it: ${error.message}`);
      this.destroy({ isApp: false, errorCode: 1, force: true }).catch(() => {});
    });
  }
}

/** An HTTP/3 client connection and the function that releases it with its QUIC client and socket. */
export interface Http3ClientHandle {
  h3: Http3ClientConnection;
  /** The local UDP address, host:port. */
  localAddress: string;
  release(): Promise<void>;
}

/**
 * Opens a QUIC connection with ALPN h3 and starts HTTP/3 on it (SETTINGS, QPACK streams). The
 * WebTransport dial below uses it; tests use it to open sessions by hand.
 */
export async function connectHttp3(transport: string, options: DialOptions, settings: WebTransportSettings): Promise<Http3ClientHandle> {
  const target = `${options.host}:${options.port}`;
  const logger = options.logger.child({ transport, remote: target });
  const fail = dialFailure(transport, target);

  if (options.signal?.aborted) throw fail('dial aborted', options.signal.reason);
  const address = await resolve(options.host).catch((error: unknown) => {
    throw fail(`could not resolve ${options.host}`, error);
  });
  let config: ReturnType<typeof clientConfig>;
  try {
    config = clientConfig(settings, options.host, options.tls);
  } catch (error) {
    throw fail(`invalid trust settings: ${toError(error).message}`, error);
  }

  const quicLogger = libraryLogger(logger);
  const socket = new GuardedQuicSocket({ libraryLogger: quicLogger, logger, udpBufferBytes: settings.quic.udpBufferBytes });
  await socket.start({ host: settings.quic.localHost ?? localBindAddress(address), port: 0 }).catch((error: unknown) => {
    throw fail(`could not bind a UDP socket: ${toError(error).message}`, error);
  });

  let client: QUICClient;
  try {
    client = await GuardedQuicClient.createQUICClient(
      {
        host: address.address,
        port: options.port,
        socket,
        serverName: expectedServerName(options.host, options.tls),
        crypto: { ops: clientCryptoOps },
        config,
        reasonToCode: streamReasonToCode,
        codeToReason: streamCodeToReason,
        logger: quicLogger,
      },
      { timer: settings.quic.connectTimeoutMs, ...(options.signal ? { signal: options.signal } : {}) },
    );
  } catch (error) {
    await socket.stop({ force: true }).catch(() => {});
    if (options.signal?.aborted) throw fail('dial aborted', error);
    if (error instanceof quicErrors.ErrorQUICClientCreateTimeout) {
      throw fail(`no QUIC handshake within ${settings.quic.connectTimeoutMs} ms (is a WebTransport server listening there?)`, error, 'CONNECT_TIMEOUT');
    }
    throw fail(toError(error).message, error);
  }

  const library = client.connection;
  const h3 = new Http3ClientConnection({ connection: library, guard: connectionGuard(library) ?? installConnectionGuard(library, logger), settings, logger });
  let released: Promise<void> | null = null;
  const release = (): Promise<void> =>
    (released ??= (async () => {
      await h3.close(H3ErrorCode.H3_NO_ERROR);
      await client.destroy({ isApp: true, errorCode: H3ErrorCode.H3_NO_ERROR, force: true }).catch(() => {});
      await socket.stop({ force: true }).catch(() => {});
    })());
  return { h3, localAddress: `${socket.host}:${socket.port}`, release };
}

export async function dialWebTransport(transport: string, options: DialOptions): Promise<WebTransportConnection> {
  const settings = webTransportSettings('client', options.settings);
  const target = `${options.host}:${options.port}`;
  const logger = options.logger.child({ transport, remote: target });
  const fail = dialFailure(transport, target);
  const { h3, localAddress, release } = await connectHttp3(transport, options, settings);

  const onAbort = (): void => void h3.close(H3ErrorCode.H3_REQUEST_CANCELLED, 'dial aborted');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let session: WebTransportSession;
  try {
    session = await h3.openSession({ authority: authorityOf(options.host, options.port), path: settings.path, origin: settings.origin });
  } catch (error) {
    await release();
    if (options.signal?.aborted) throw fail('dial aborted', error);
    if (error instanceof PushlabError) throw fail(error.message, error, error.code === 'CONNECT_TIMEOUT' ? 'CONNECT_TIMEOUT' : 'TRANSPORT_FAILED');
    throw fail(toError(error).message, error);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }

  const connection = new WebTransportConnection({
    transport,
    role: 'client',
    session,
    remoteAddress: target,
    maxFrameSize: options.maxFrameSize,
    settings,
    logger,
    onEnded: () => void release(),
  });
  session.start();
  logger.debug({ session: session.id, local: localAddress }, 'WebTransport session established');
  return connection;
}

function dialFailure(transport: string, target: string) {
  return (message: string, cause?: unknown, code: 'TRANSPORT_FAILED' | 'CONNECT_TIMEOUT' = 'TRANSPORT_FAILED'): TransportError =>
    new TransportError(code, `${transport} dial to ${target} failed: ${message}`, { cause });
}

async function resolve(host: string): Promise<{ address: string; family: number }> {
  const family = net.isIP(host);
  if (family !== 0) return { address: host, family };
  return lookup(host);
}

/** Returns the loopback address of the target's family for a loopback target, else the wildcard. */
function localBindAddress(target: { address: string; family: number }): string {
  if (target.family === 6) return target.address === '::1' ? '::1' : '::';
  return target.address.startsWith('127.') ? '127.0.0.1' : '0.0.0.0';
}

/** :authority is host:port, with an IPv6 literal in brackets (RFC 3986 section 3.2.2). */
function authorityOf(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
