// The @matrixai/quic configuration of an HTTP/3 endpoint, and the client's certificate check.
import { X509Certificate, createHash } from 'node:crypto';
import { native, type QUICClientConfigInput, type QUICServerConfigInput, type TLSVerifyCallback } from '@matrixai/quic';
import type { TlsClientMaterial, TlsServerMaterial } from '../../src/transport/types.js';
import { MAX_PINNED_VALIDITY_MS } from '../../src/tls/cert-manager.js';
import { certificateVerifier } from '../quic/security.js';
import { expectedServerName } from '../quic/library-config.js';
import type { CertificateHash, WebTransportSettings } from './settings.js';

const { CryptoError } = native;

/** Receive and send queue lengths for DATAGRAM frames. */
const DATAGRAM_QUEUE_LENGTH = 64;

/**
 * Stream limits granted to the peer. Every HTTP/3 endpoint opens three unidirectional streams
 * (control and the two QPACK streams, RFC 9114 section 6.2), so fewer than 3 would stall the peer.
 * A pushlab session uses one CONNECT stream and one bidirectional WebTransport stream. The spare
 * streams let a peer open extras, which the transport resets, so the peer does not hit a
 * STREAM_LIMIT_ERROR that ends the connection. quiche raises the limits as streams complete.
 */
const STREAM_LIMITS = {
  server: { bidi: 8, uni: 8 },
  client: { bidi: 4, uni: 8 },
} as const;

/** Flow-control window of each peer unidirectional stream; control and QPACK streams carry little. */
const UNI_STREAM_WINDOW = 16 * 1024;

function sharedConfig(settings: WebTransportSettings, role: 'client' | 'server') {
  const quic = settings.quic;
  const limits = STREAM_LIMITS[role];
  return {
    maxIdleTimeout: quic.maxIdleTimeoutMs,
    keepAliveIntervalTime: quic.keepAliveIntervalMs > 0 ? quic.keepAliveIntervalMs : undefined,
    applicationProtos: quic.alpnProtocols,
    enableDgram: [true, DATAGRAM_QUEUE_LENGTH, DATAGRAM_QUEUE_LENGTH] as [boolean, number, number],
    initialMaxData: quic.initialMaxData,
    initialMaxStreamDataBidiLocal: quic.initialMaxStreamData,
    initialMaxStreamDataBidiRemote: quic.initialMaxStreamData,
    initialMaxStreamDataUni: UNI_STREAM_WINDOW,
    initialMaxStreamsBidi: limits.bidi,
    initialMaxStreamsUni: limits.uni,
    readableChunkSize: quic.readableChunkSize,
    disableActiveMigration: quic.disableActiveMigration,
    // 0-RTT data can be replayed (RFC 9001 section 9.2), and Chromium sends no 0-RTT to a server
    // it reaches through serverCertificateHashes.
    enableEarlyData: false,
  };
}

export function serverConfig(settings: WebTransportSettings, tls: TlsServerMaterial): QUICServerConfigInput {
  return { ...sharedConfig(settings, 'server'), key: tls.key, cert: tls.cert, verifyPeer: false };
}

/**
 * Builds the client configuration. The client trusts the server when its certificate matches a pinned hash (the browser rule of
 * serverCertificateHashes) or when it verifies against tls.ca. At least one must be given, because
 * the TLS stack's own verification does not work with the self-signed certificates used here
 * (docs/QUIC.md, "Certificate verification in the native TLS stack").
 */
export function clientConfig(settings: WebTransportSettings, host: string, tls: TlsClientMaterial | undefined): Partial<QUICClientConfigInput> {
  const hashes = settings.certificateHashes ?? [];
  if (hashes.length === 0 && tls?.ca === undefined) {
    throw new RangeError('no trust material: pass tls.ca or settings.certificateHashes (the listener publishes them in clientSettings)');
  }
  const byCa = tls?.ca !== undefined ? certificateVerifier(tls.ca, expectedServerName(host, tls)) : null;
  const byHash = hashes.length > 0 ? pinnedHashVerifier(hashes) : null;
  const verifyCallback: TLSVerifyCallback = async (chain, anchors) => {
    const hashResult = byHash === null ? CryptoError.UnknownCA : await byHash(chain, anchors);
    if (hashResult === undefined || byCa === null) return hashResult;
    return byCa(chain, anchors);
  };
  const config: Partial<QUICClientConfigInput> = { ...sharedConfig(settings, 'client'), verifyPeer: true, verifyCallback };
  if (tls?.ca !== undefined) config.ca = tls.ca;
  return config;
}

/**
 * Accepts a leaf certificate whose SHA-256 over DER is one of `hashes`, that is inside its
 * validity dates, and whose validity is under 14 days, as browsers require for
 * serverCertificateHashes. Names are not checked: the hash identifies the certificate.
 */
export function pinnedHashVerifier(hashes: readonly CertificateHash[], now: () => number = Date.now): TLSVerifyCallback {
  const pinned = new Set(hashes.map((hash) => Buffer.from(hash.value, 'base64').toString('hex')));
  return async (chain) => {
    const der = chain[0];
    if (der === undefined) return CryptoError.CertificateRequired;
    const digest = createHash('sha256').update(der).digest('hex');
    if (!pinned.has(digest)) return CryptoError.BadCertificate;
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(Buffer.from(der));
    } catch {
      return CryptoError.BadCertificate;
    }
    const notBefore = Date.parse(leaf.validFrom);
    const notAfter = Date.parse(leaf.validTo);
    if (notAfter - notBefore >= MAX_PINNED_VALIDITY_MS) return CryptoError.BadCertificate;
    const at = now();
    if (at < notBefore || at > notAfter) return CryptoError.CertificateExpired;
    return undefined;
  };
}
