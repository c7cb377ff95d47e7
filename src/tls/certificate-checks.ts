// Checks and hashes for certificates that browsers pin through serverCertificateHashes.
//
// A browser accepts a pinned certificate only if it is ECDSA P-256 and valid for less than
// 14 days, and it pins the SHA-256 of the DER bytes (not of the PEM text).
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { PushlabError, toError } from '../errors.js';

const DAY_MS = 86_400_000;
/** Pinned certificates must be valid for less than this. */
export const MAX_PINNED_VALIDITY_MS = 14 * DAY_MS;

export type CertificateErrorReason =
  | 'INVALID_CERTIFICATE'
  | 'KEY_TYPE'
  | 'KEY_MISMATCH'
  | 'VALIDITY_TOO_LONG'
  | 'EXPIRED'
  | 'HASH_OVER_PEM'
  | 'HASH_MISMATCH'
  | 'INVALID_OPTIONS';

/** A certificate, key, hash or option that cannot be used; `reason` names the rule that failed. */
export class CertificateError extends PushlabError {
  override readonly name = 'CertificateError';
  constructor(readonly reason: CertificateErrorReason, message: string, options: { cause?: unknown } = {}) {
    super('CONFIG_INVALID', message, options);
  }
}

export interface ManagedCertificate {
  /** PEM of the certificate. */
  cert: string;
  /** PEM of the private key. */
  key: string;
  der: Uint8Array;
  /** SHA-256 over `der`. */
  sha256: Uint8Array;
  notBefore: Date;
  notAfter: Date;
}

export interface CertificateDigest {
  der: Uint8Array;
  sha256: Uint8Array;
  base64: string;
  hex: string;
}

const PEM_MARKER = '-----BEGIN';

function parseCertificate(input: string | Uint8Array): X509Certificate {
  let source: string | Buffer;
  if (typeof input === 'string') {
    if (!input.includes('-----BEGIN CERTIFICATE-----')) {
      throw new CertificateError('INVALID_CERTIFICATE', 'certificate text is not PEM (no "-----BEGIN CERTIFICATE-----" line); pass PEM text or DER bytes');
    }
    source = input;
  } else {
    const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    // PEM text handed over as bytes is still PEM: decode it instead of hashing the text.
    source = bytes.subarray(0, PEM_MARKER.length).toString('latin1') === PEM_MARKER ? bytes.toString('utf8') : bytes;
  }
  try {
    return new X509Certificate(source);
  } catch (error) {
    throw new CertificateError('INVALID_CERTIFICATE', `certificate does not parse: ${toError(error).message}`, { cause: error });
  }
}

function digestOf(certificate: X509Certificate): CertificateDigest {
  const der = new Uint8Array(certificate.raw);
  const sha256 = createHash('sha256').update(der).digest();
  return { der, sha256: new Uint8Array(sha256), base64: sha256.toString('base64'), hex: sha256.toString('hex') };
}

/**
 * Computes the SHA-256 a browser pins: over the DER bytes. PEM input (a string, or bytes starting
 * with "-----BEGIN") is decoded to DER first; input that is not a certificate is rejected.
 */
export function hashCertificate(input: string | Uint8Array): CertificateDigest {
  return digestOf(parseCertificate(input));
}

function decodeHash(hash: string | Uint8Array): Buffer {
  if (typeof hash !== 'string') return Buffer.from(hash);
  if (/^[0-9a-f]{64}$/i.test(hash)) return Buffer.from(hash, 'hex');
  return Buffer.from(hash, 'base64');
}

/**
 * Checks that `hash` (bytes, hex or base64) is the SHA-256 over the certificate's DER. A hash of
 * the PEM text, a common mistake, is rejected with reason HASH_OVER_PEM; any other mismatch with
 * HASH_MISMATCH.
 */
export function verifyCertificateHash(certificate: string | Uint8Array, hash: string | Uint8Array): void {
  const parsed = parseCertificate(certificate);
  const expected = Buffer.from(digestOf(parsed).sha256);
  const actual = decodeHash(hash);
  if (actual.length === 32 && actual.equals(expected)) return;

  const pemTexts = new Set([parsed.toString(), parsed.toString().trimEnd(), parsed.toString().replace(/\n/g, '\r\n')]);
  if (typeof certificate === 'string') pemTexts.add(certificate).add(certificate.trim());
  for (const text of pemTexts) {
    if (actual.equals(createHash('sha256').update(text, 'utf8').digest())) {
      throw new CertificateError('HASH_OVER_PEM', 'certificate hash was computed over the PEM text; browsers pin the SHA-256 of the DER bytes');
    }
  }
  throw new CertificateError('HASH_MISMATCH', `certificate hash ${actual.toString('hex')} does not match the SHA-256 of the DER bytes, ${expected.toString('hex')}`);
}

function managed(parsed: X509Certificate, cert: string, key: string): ManagedCertificate {
  const digest = digestOf(parsed);
  return { cert, key, der: digest.der, sha256: digest.sha256, notBefore: new Date(parsed.validFrom), notAfter: new Date(parsed.validTo) };
}

/** Parses and checks a caller's certificate and key: they must match and the certificate must not have expired. */
export function loadCertificate(cert: string, key: string, now: number): ManagedCertificate {
  const parsed = parseCertificate(cert);
  let matches: boolean;
  try {
    matches = parsed.checkPrivateKey(createPrivateKey(key));
  } catch (error) {
    throw new CertificateError('INVALID_CERTIFICATE', `private key does not parse: ${toError(error).message}`, { cause: error });
  }
  if (!matches) throw new CertificateError('KEY_MISMATCH', 'private key does not belong to the certificate');
  const certificate = managed(parsed, parsed.toString(), key);
  if (certificate.notAfter.getTime() <= now) throw new CertificateError('EXPIRED', `certificate expired at ${certificate.notAfter.toISOString()}`);
  return certificate;
}

/** Applies the browser rules for pinned certificates: ECDSA P-256 and a validity under 14 days. */
export function checkPinnable(certificate: string | Uint8Array): void {
  const parsed = parseCertificate(certificate);
  const publicKey = parsed.publicKey;
  const curve = publicKey.asymmetricKeyDetails?.namedCurve;
  if (publicKey.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    throw new CertificateError('KEY_TYPE', `pinned certificates must use an ECDSA P-256 key, got ${publicKey.asymmetricKeyType ?? 'unknown'}${curve ? ` ${curve}` : ''}`);
  }
  const validity = new Date(parsed.validTo).getTime() - new Date(parsed.validFrom).getTime();
  if (validity >= MAX_PINNED_VALIDITY_MS) {
    throw new CertificateError('VALIDITY_TOO_LONG', `pinned certificates must be valid for less than 14 days, this one for ${(validity / DAY_MS).toFixed(2)} days`);
  }
}
