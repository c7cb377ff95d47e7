// Builds the @matrixai/quic configuration for each role from QuicSettings.
import net from 'node:net';
import type { QUICClientConfigInput, QUICServerConfigInput, StreamCodeToReason } from '@matrixai/quic';
import { TransportError } from '../../src/errors.js';
import type { TlsClientMaterial, TlsServerMaterial } from '../../src/transport/types.js';
import { certificateVerifier } from './security.js';
import type { QuicSettings } from './settings.js';

/** Receive and send queue lengths for DATAGRAM frames; heartbeats need only a few. */
const DATAGRAM_QUEUE_LENGTH = 16;

function sharedConfig(settings: QuicSettings, role: 'client' | 'server') {
  return {
    maxIdleTimeout: settings.maxIdleTimeoutMs,
    keepAliveIntervalTime: settings.keepAliveIntervalMs > 0 ? settings.keepAliveIntervalMs : undefined,
    applicationProtos: settings.alpnProtocols,
    enableDgram: [settings.datagrams, DATAGRAM_QUEUE_LENGTH, DATAGRAM_QUEUE_LENGTH] as [boolean, number, number],
    initialMaxData: settings.initialMaxData,
    initialMaxStreamDataBidiLocal: settings.initialMaxStreamData,
    initialMaxStreamDataBidiRemote: settings.initialMaxStreamData,
    // The session uses one client-opened bidirectional stream. The server allows a few more streams
    // of each kind, so a peer that opens extra ones gets them reset by the transport instead of a
    // STREAM_LIMIT_ERROR that ends the connection. The client allows none.
    initialMaxStreamDataUni: role === 'server' ? 1024 : 0,
    initialMaxStreamsBidi: role === 'server' ? 4 : 0,
    initialMaxStreamsUni: role === 'server' ? 4 : 0,
    readableChunkSize: settings.readableChunkSize,
    disableActiveMigration: settings.disableActiveMigration,
    // 0-RTT data can be replayed (RFC 9001 section 9.2) and the library does not expose it anyway.
    enableEarlyData: false,
  };
}

export function serverConfig(settings: QuicSettings, tls: TlsServerMaterial): QUICServerConfigInput {
  return { ...sharedConfig(settings, 'server'), key: tls.key, cert: tls.cert, verifyPeer: false };
}

/**
 * The name the client checks the certificate against: the configured serverName, else the dial
 * host when it is a DNS name, else 'localhost', the same rule as the TCP transport.
 */
export function expectedServerName(host: string, tls: TlsClientMaterial | undefined): string {
  return tls?.serverName ?? (net.isIP(host) ? 'localhost' : host);
}

export function clientConfig(settings: QuicSettings, host: string, tls: TlsClientMaterial | undefined): Partial<QUICClientConfigInput> {
  const config: Partial<QUICClientConfigInput> = { ...sharedConfig(settings, 'client'), verifyPeer: true };
  if (tls?.ca !== undefined) {
    config.ca = tls.ca;
    config.verifyCallback = certificateVerifier(tls.ca, expectedServerName(host, tls));
  }
  return config;
}

/**
 * Turns the application error code of a peer's RESET_STREAM ('read') or STOP_SENDING ('write')
 * into the error the stream fails with (RFC 9000 sections 19.4 and 19.5). This transport always
 * sends code 0, so any other code comes from another implementation.
 */
export const streamCodeToReason: StreamCodeToReason = (type, code) =>
  new TransportError('TRANSPORT_FAILED', `QUIC stream ${type === 'read' ? 'reset' : 'stopped'} by the peer with application error code ${code}`);
