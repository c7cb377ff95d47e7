// Self-signed ECDSA P-256 certificates for development, tests and experiments. Production setups
// pass their own CA-issued certificate and key instead.
// @peculiar/x509 resolves its ASN.1 services through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface SelfSignedCertificate {
  /** PEM of the certificate. */
  cert: string;
  /** PEM of the private key, PKCS#8. */
  key: string;
  /** DER bytes of the certificate. */
  der: Uint8Array;
  /** SHA-256 over the DER bytes, the form browsers pin through serverCertificateHashes. */
  sha256: Uint8Array;
  notBefore: Date;
  notAfter: Date;
}

export interface SelfSignedOptions {
  /** DNS names for the subjectAltName; default localhost. */
  dnsNames?: string[];
  /** IP addresses for the subjectAltName; default 127.0.0.1 and ::1. */
  ipAddresses?: string[];
  /** Validity in days from notBefore; default 10. */
  validityDays?: number;
  notBefore?: Date;
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export async function createSelfSignedCertificate(options: SelfSignedOptions = {}): Promise<SelfSignedCertificate> {
  const dnsNames = options.dnsNames ?? ['localhost'];
  const ipAddresses = options.ipAddresses ?? ['127.0.0.1', '::1'];
  // Back-date by a minute so a peer whose clock is slightly behind still accepts the certificate.
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + (options.validityDays ?? 10) * 86_400_000);
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;

  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: createHash('sha256').update(String(Math.random()) + notBefore.toISOString()).digest('hex').slice(0, 16),
    name: `CN=${dnsNames[0] ?? 'pushlab'}`,
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
      ]),
    ],
  });

  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const der = new Uint8Array(certificate.rawData);
  return {
    cert: certificate.toString('pem'),
    key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    der,
    sha256: new Uint8Array(createHash('sha256').update(der).digest()),
    notBefore,
    notAfter,
  };
}
