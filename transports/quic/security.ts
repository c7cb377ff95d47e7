// Crypto callbacks that @matrixai/quic asks its user for: retry-token signing on the server, random
// connection ids on the client, and server certificate verification.
import { X509Certificate, webcrypto } from 'node:crypto';
import net from 'node:net';
import { native, type ClientCryptoOps, type QUICServerCrypto, type TLSVerifyCallback } from '@matrixai/quic';

const HMAC = { name: 'HMAC', hash: 'SHA-256' } as const;

/**
 * Returns the server crypto for retry tokens (RFC 9000 section 8.1.2): an HMAC-SHA-256 key drawn for
 * this listener, so tokens from another listener or an earlier run do not validate.
 */
export function retryTokenCrypto(): QUICServerCrypto {
  const key = webcrypto.getRandomValues(new Uint8Array(32));
  let imported: Promise<webcrypto.CryptoKey> | undefined;
  const cryptoKey = (): Promise<webcrypto.CryptoKey> => (imported ??= webcrypto.subtle.importKey('raw', key, HMAC, false, ['sign', 'verify']));
  return {
    key: key.buffer,
    ops: {
      sign: async (_key, data) => webcrypto.subtle.sign('HMAC', await cryptoKey(), data),
      verify: async (_key, data, signature) => webcrypto.subtle.verify('HMAC', await cryptoKey(), signature, data),
    },
  };
}

export const clientCryptoOps: ClientCryptoOps = {
  randomBytes: async (data) => {
    webcrypto.getRandomValues(new Uint8Array(data));
  },
};

const { CryptoError } = native;

/** Longest chain walked from the leaf to a trust anchor. */
const MAX_CHAIN_DEPTH = 8;

/**
 * Returns a verifier of the server's certificate chain against the trust anchors in `caPem`.
 *
 * quiche's BoringSSL verification (as built into @matrixai/quic 2.0.9) fails in two common cases:
 * a self-signed certificate whose keyUsage lacks keyCertSign is rejected as its own trust anchor
 * (UnknownCA), and names that are IP addresses never match. This verifier accepts a leaf that is
 * itself one of the anchors (pinning) or that chains to one, checks validity dates and the name
 * with node:crypto's X509Certificate, and leaves the proof of key possession to the TLS handshake
 * (the CertificateVerify message, RFC 8446 section 4.4.3), which BoringSSL checks in any case.
 */
export function certificateVerifier(caPem: string, expectedName: string, now: () => number = Date.now): TLSVerifyCallback {
  const anchors = splitPem(caPem).map((pem) => new X509Certificate(pem));
  return async (chainDer) => {
    let chain: X509Certificate[];
    try {
      chain = chainDer.map((der) => new X509Certificate(Buffer.from(der)));
    } catch {
      return CryptoError.BadCertificate;
    }
    const leaf = chain[0];
    if (leaf === undefined) return CryptoError.CertificateRequired;
    const nameMatches = net.isIP(expectedName) ? leaf.checkIP(expectedName) !== undefined : leaf.checkHost(expectedName) !== undefined;
    if (!nameMatches) return CryptoError.BadCertificate;
    return verifyPath(leaf, chain.slice(1), anchors, now());
  };
}

function verifyPath(leaf: X509Certificate, intermediates: X509Certificate[], anchors: X509Certificate[], nowMs: number): number | undefined {
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth += 1) {
    if (!isValidAt(current, nowMs)) return CryptoError.CertificateExpired;
    if (anchors.some((anchor) => anchor.raw.equals(current.raw))) return undefined;
    const anchor = anchors.find((candidate) => issued(candidate, current));
    if (anchor !== undefined) return isValidAt(anchor, nowMs) ? undefined : CryptoError.CertificateExpired;
    const next = intermediates.find((candidate) => candidate.ca && issued(candidate, current));
    if (next === undefined) return CryptoError.UnknownCA;
    current = next;
  }
  return CryptoError.UnknownCA;
}

function issued(issuer: X509Certificate, subject: X509Certificate): boolean {
  return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
}

function isValidAt(certificate: X509Certificate, nowMs: number): boolean {
  return Date.parse(certificate.validFrom) <= nowMs && nowMs <= Date.parse(certificate.validTo);
}

function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
