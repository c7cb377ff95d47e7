// Client side of the QUIC transport: one QUICClient on its own GuardedQuicSocket per dial, so each
// connection has its own UDP port like a TCP connection.
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { QUICClient, errors as quicErrors } from '@matrixai/quic';
import { TransportError, toError } from '../../src/errors.js';
import type { DialOptions } from '../../src/transport/types.js';
import { QuicConnection } from './connection.js';
import { GuardedQuicSocket } from './guarded-socket.js';
import { connectionGuard, guardEventErrors, installConnectionGuard } from './guards.js';
import { clientConfig, expectedServerName, streamCodeToReason } from './library-config.js';
import { libraryLogger } from './log-adapter.js';
import { clientCryptoOps } from './security.js';
import { quicSettings } from './settings.js';

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

export async function dialQuic(transport: string, options: DialOptions): Promise<QuicConnection> {
  const settings = quicSettings('client', options.settings);
  const target = `${options.host}:${options.port}`;
  const logger = options.logger.child({ transport, remote: target });
  const quicLogger = libraryLogger(logger);
  const fail = (message: string, cause?: unknown, code: 'TRANSPORT_FAILED' | 'CONNECT_TIMEOUT' = 'TRANSPORT_FAILED'): TransportError =>
    new TransportError(code, `${transport} dial to ${target} failed: ${message}`, { cause });

  if (options.signal?.aborted) throw fail('dial aborted', options.signal.reason);
  const address = await resolve(options.host).catch((error: unknown) => {
    throw fail(`could not resolve ${options.host}`, error);
  });
  const config = (() => {
    try {
      return clientConfig(settings, options.host, options.tls);
    } catch (error) {
      throw fail(`invalid TLS trust material: ${toError(error).message}`, error);
    }
  })();

  const socket = new GuardedQuicSocket({ libraryLogger: quicLogger, logger, udpBufferBytes: settings.udpBufferBytes });
  await socket.start({ host: settings.localHost ?? localBindAddress(address), port: 0 }).catch((error: unknown) => {
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
        codeToReason: streamCodeToReason,
        logger: quicLogger,
      },
      { timer: settings.connectTimeoutMs, ...(options.signal ? { signal: options.signal } : {}) },
    );
  } catch (error) {
    await socket.stop({ force: true }).catch(() => {});
    if (options.signal?.aborted) throw fail('dial aborted', error);
    if (error instanceof quicErrors.ErrorQUICClientCreateTimeout) {
      throw fail(`no handshake within ${settings.connectTimeoutMs} ms (is a QUIC server listening there?)`, error, 'CONNECT_TIMEOUT');
    }
    throw fail(toError(error).message, error);
  }

  const library = client.connection;
  let released: Promise<void> | null = null;
  const shutdown = (): Promise<void> =>
    (released ??= (async () => {
      await client.destroy({ isApp: true, errorCode: 0, force: true }).catch(() => {});
      await socket.stop({ force: true }).catch(() => {});
    })());
  logger.debug({ local: `${socket.host}:${socket.port}` }, 'QUIC connection established');
  return new QuicConnection({
    transport,
    role: 'client',
    connection: library,
    guard: connectionGuard(library) ?? installConnectionGuard(library, logger),
    settings,
    maxFrameSize: options.maxFrameSize,
    logger,
    shutdown,
  });
}

async function resolve(host: string): Promise<{ address: string; family: number }> {
  const family = net.isIP(host);
  if (family !== 0) return { address: host, family };
  return lookup(host);
}

/**
 * The local address for the client's UDP socket: the loopback address of the same family for a
 * loopback target (the library would otherwise bind `::` and send to IPv4 peers through mapped
 * addresses), else the wildcard of that family.
 */
function localBindAddress(target: { address: string; family: number }): string {
  if (target.family === 6) return target.address === '::1' ? '::1' : '::';
  return target.address.startsWith('127.') ? '127.0.0.1' : '0.0.0.0';
}
