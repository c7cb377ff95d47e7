// Settings of the WebTransport transport (ListenOptions.settings / DialOptions.settings).
//
// QUIC-level keys (maxIdleTimeoutMs, keepAliveIntervalMs, connectTimeoutMs, closeTimeoutMs,
// highWaterMark, initialMaxData, initialMaxStreamData, readableChunkSize, udpBufferBytes,
// localHost, disableActiveMigration) mean what they mean for the QUIC transport (docs/QUIC.md)
// and are validated by its quicSettings(). ALPN is always 'h3' (RFC 9114 section 3.1) and
// DATAGRAM frames are always negotiated, because browsers require both.
import { ConfigError } from '../../src/errors.js';
import { quicSettings, type QuicRole, type QuicSettings } from '../quic/settings.js';

export const DEFAULT_SESSION_PATH = '/pushlab';
export const H3_ALPN = 'h3';

export interface CertificateHash {
  algorithm: 'sha-256';
  /** Base64 of the SHA-256 over the certificate's DER bytes. */
  value: string;
}

export interface WebTransportSettings {
  quic: QuicSettings;
  /** Path of the pushlab WebTransport endpoint, matched against :path without its query. */
  path: string;
  /** Origins a browser page may connect from; '*' accepts any. Undefined means loopback pages only. */
  allowedOrigins: string[] | '*' | undefined;
  /** 'self-signed': issue and rotate short-lived certificates instead of using ListenOptions.tls. */
  certificateManager: 'self-signed' | undefined;
  /** WebTransport sessions one HTTP/3 connection may carry (server). */
  maxSessionsPerConnection: number;
  /** Time in ms that listener.close() gives sessions to finish after GOAWAY before it closes them. */
  shutdownGraceMs: number;
  /** Maximum wait in ms for the peer's SETTINGS, a request's HEADERS or the CONNECT response. */
  handshakeTimeoutMs: number;
  /** Largest HEADERS field section accepted, as RFC 9114 section 4.2.2 counts it. */
  maxFieldSectionSize: number;
  /** Client: the origin field of the CONNECT request. */
  origin: string;
  /** Client: certificate hashes to pin (from the listener's clientSettings). */
  certificateHashes: CertificateHash[] | undefined;
}

const DEFAULTS = {
  maxSessionsPerConnection: 1,
  shutdownGraceMs: 1_000,
  handshakeTimeoutMs: 10_000,
  maxFieldSectionSize: 16 * 1024,
  // A non-browser client has no page origin. It presents a loopback origin, which the server's
  // default policy accepts; set `origin` to one of allowedOrigins for a remote gateway.
  origin: 'http://localhost',
};

export function webTransportSettings(role: QuicRole, raw: Record<string, unknown> | undefined): WebTransportSettings {
  const input = raw ?? {};
  if (input.alpnProtocols !== undefined) throw new ConfigError('webtransport settings: alpnProtocols cannot be set; HTTP/3 always uses "h3"');
  if (input.datagrams === false) throw new ConfigError('webtransport settings: datagrams cannot be turned off; browsers require HTTP/3 datagram support');
  const quic = quicSettings(role, { ...input, alpnProtocols: [H3_ALPN], datagrams: true });
  return {
    quic,
    path: sessionPath(input.path),
    allowedOrigins: allowedOrigins(input.allowedOrigins),
    certificateManager: certificateManager(input.certificateManager),
    maxSessionsPerConnection: positiveInteger(input, 'maxSessionsPerConnection', DEFAULTS.maxSessionsPerConnection),
    shutdownGraceMs: positiveInteger(input, 'shutdownGraceMs', DEFAULTS.shutdownGraceMs),
    handshakeTimeoutMs: positiveInteger(input, 'handshakeTimeoutMs', DEFAULTS.handshakeTimeoutMs),
    maxFieldSectionSize: positiveInteger(input, 'maxFieldSectionSize', DEFAULTS.maxFieldSectionSize),
    origin: typeof input.origin === 'string' && input.origin.length > 0 ? input.origin : invalidUnlessAbsent(input, 'origin', DEFAULTS.origin),
    certificateHashes: certificateHashes(input.certificateHashes),
  };
}

function sessionPath(value: unknown): string {
  if (value === undefined) return DEFAULT_SESSION_PATH;
  if (typeof value !== 'string' || !value.startsWith('/') || value.includes('?') || /[\s#]/.test(value)) {
    throw new ConfigError(`webtransport settings: path must start with "/" and contain no query, fragment or spaces, got ${JSON.stringify(value)}`);
  }
  return value;
}

function allowedOrigins(value: unknown): string[] | '*' | undefined {
  if (value === undefined || value === '*') return value;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string' && item.length > 0)) return [...(value as string[])];
  throw new ConfigError(`webtransport settings: allowedOrigins must be '*' or a list of origins such as "https://app.example", got ${JSON.stringify(value)}`);
}

function certificateManager(value: unknown): 'self-signed' | undefined {
  if (value === undefined || value === 'self-signed') return value;
  throw new ConfigError(`webtransport settings: certificateManager must be 'self-signed' or absent, got ${JSON.stringify(value)}`);
}

function certificateHashes(value: unknown): CertificateHash[] | undefined {
  if (value === undefined) return undefined;
  const valid =
    Array.isArray(value) &&
    value.every((item) => typeof item === 'object' && item !== null && (item as CertificateHash).algorithm === 'sha-256' && typeof (item as CertificateHash).value === 'string');
  if (!valid) throw new ConfigError('webtransport settings: certificateHashes must be a list of { algorithm: "sha-256", value: BASE64 }');
  return (value as CertificateHash[]).map((item) => ({ algorithm: 'sha-256', value: item.value }));
}

function positiveInteger(input: Record<string, unknown>, key: string, fallback: number): number {
  const value = input[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(`webtransport settings: ${key} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function invalidUnlessAbsent(input: Record<string, unknown>, key: string, fallback: string): string {
  if (input[key] === undefined) return fallback;
  throw new ConfigError(`webtransport settings: ${key} must be a non-empty string, got ${JSON.stringify(input[key])}`);
}
