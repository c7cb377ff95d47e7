import 'reflect-metadata';
import { X509Certificate, createHash, webcrypto } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as x509 from '@peculiar/x509';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock.js';
import {
  CertificateError,
  CertificateManager,
  certificateHashesHandler,
  checkPinnable,
  hashCertificate,
  isLoopbackOrigin,
  verifyCertificateHash,
  type CertificateErrorReason,
} from '../../src/tls/cert-manager.js';
import { createSelfSignedCertificate } from '../../src/tls/self-signed.js';

const DAY = 86_400_000;
const START = Date.UTC(2030, 0, 1);

function expectReason(action: () => unknown, reason: CertificateErrorReason): void {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(CertificateError);
    expect((error as CertificateError).reason).toBe(reason);
    return;
  }
  throw new Error(`expected CertificateError ${reason}, but nothing was thrown`);
}

/** Creates an RSA self-signed certificate, which browsers do not accept for pinning. */
async function rsaCertificate(notBefore: Date, days: number): Promise<{ cert: string; key: string }> {
  const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=localhost',
    notBefore,
    notAfter: new Date(notBefore.getTime() + days * DAY),
    signingAlgorithm: algorithm,
    keys,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert: certificate.toString('pem'), key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

describe('cert manager self-signed mode', () => {
  let manager: CertificateManager | undefined;
  afterEach(() => manager?.stop());

  it('issues an ECDSA P-256 certificate valid 10 days', async () => {
    const clock = new VirtualClock(START);
    manager = await CertificateManager.selfSigned({ clock });
    const current = manager.current();
    const parsed = new X509Certificate(current.cert);
    expect(parsed.publicKey.asymmetricKeyType).toBe('ec');
    expect(parsed.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(current.notAfter.getTime() - current.notBefore.getTime()).toBe(10 * DAY);
    expect(current.notBefore.getTime()).toBeLessThanOrEqual(START);
    expect(() => checkPinnable(current.cert)).not.toThrow();
  });

  it('publishes the SHA-256 of the DER bytes', async () => {
    manager = await CertificateManager.selfSigned({ clock: new VirtualClock(START) });
    const der = new X509Certificate(manager.current().cert).raw;
    const digest = createHash('sha256').update(der).digest();
    expect(manager.hashes()).toEqual([
      { algorithm: 'sha-256', value: digest.toString('base64'), hex: digest.toString('hex'), notAfter: manager.current().notAfter.toISOString() },
    ]);
  });

  it('rotates at day 7 and keeps the previous hash until it expires', async () => {
    const clock = new VirtualClock(START);
    manager = await CertificateManager.selfSigned({ clock });
    const first = manager.current();
    const rotated: string[] = [];
    manager.onRotate((certificate) => rotated.push(certificate.cert));
    manager.start();

    clock.advance(6 * DAY);
    await manager.idle();
    expect(manager.current()).toBe(first);
    expect(manager.hashes()).toHaveLength(1);

    clock.advance(1 * DAY);
    await manager.idle();
    const second = manager.current();
    expect(second).not.toBe(first);
    expect(rotated).toEqual([second.cert]);
    expect(manager.hashes().map((entry) => entry.hex)).toEqual([Buffer.from(second.sha256).toString('hex'), Buffer.from(first.sha256).toString('hex')]);

    // The first certificate expires 10 days after its notBefore, 3 days after the rotation.
    clock.advance(3 * DAY);
    await manager.idle();
    expect(manager.hashes().map((entry) => entry.hex)).toEqual([Buffer.from(second.sha256).toString('hex')]);
    expect(manager.validCertificates()).toEqual([second]);

    // The second rotation happens 7 days after the first.
    clock.advance(4 * DAY);
    await manager.idle();
    expect(manager.current()).not.toBe(second);
    expect(manager.hashes()).toHaveLength(2);
  });

  it('rotates through rotateIfDue without timers', async () => {
    const clock = new VirtualClock(START);
    manager = await CertificateManager.selfSigned({ clock });
    const first = manager.current();
    expect(await manager.rotateIfDue(START + 6 * DAY)).toBe(false);
    const [a, b] = await Promise.all([manager.rotateIfDue(START + 7 * DAY), manager.rotateIfDue(START + 7 * DAY)]);
    expect([a, b]).toEqual([true, true]);
    expect(manager.validCertificates(START + 7 * DAY)).toHaveLength(2);
    expect(manager.hashes(START + 10 * DAY)).toHaveLength(1);
    expect(manager.current()).not.toBe(first);
    expect(clock.pendingTimers).toBe(0);
  });

  it('stops its timer', async () => {
    const clock = new VirtualClock(START);
    manager = await CertificateManager.selfSigned({ clock });
    manager.start();
    expect(clock.pendingTimers).toBe(1);
    manager.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects a validity of 14 days or a rotation after expiry', async () => {
    await expect(CertificateManager.selfSigned({ validityDays: 14 })).rejects.toMatchObject({ reason: 'VALIDITY_TOO_LONG' });
    await expect(CertificateManager.selfSigned({ validityDays: 5, rotateAfterDays: 5 })).rejects.toMatchObject({ reason: 'INVALID_OPTIONS' });
  });
});

describe('cert manager supplied certificates', () => {
  it('pins a valid caller certificate', async () => {
    const clock = new VirtualClock(START);
    const created = await createSelfSignedCertificate({ notBefore: new Date(START - DAY), validityDays: 13.9 });
    const manager = CertificateManager.pinned({ cert: created.cert, key: created.key, clock, expectedSha256: Buffer.from(created.sha256).toString('base64') });
    expect(manager.mode).toBe('pinned');
    expect(manager.hashes()).toEqual([expect.objectContaining({ hex: Buffer.from(created.sha256).toString('hex') })]);
  });

  it('rejects RSA keys for pinning but accepts them when provided', async () => {
    const rsa = await rsaCertificate(new Date(START - DAY), 5);
    expectReason(() => CertificateManager.pinned({ ...rsa, clock: new VirtualClock(START) }), 'KEY_TYPE');
    const provided = CertificateManager.provided({ ...rsa, clock: new VirtualClock(START) });
    expect(provided.mode).toBe('provided');
    expect(provided.hashes()).toEqual([]);
  });

  it('rejects 14 days of validity for pinning but accepts it when provided', async () => {
    const created = await createSelfSignedCertificate({ notBefore: new Date(START - DAY), validityDays: 14 });
    expectReason(() => CertificateManager.pinned({ cert: created.cert, key: created.key, clock: new VirtualClock(START) }), 'VALIDITY_TOO_LONG');
    const longer = await createSelfSignedCertificate({ notBefore: new Date(START - DAY), validityDays: 90 });
    expect(CertificateManager.provided({ cert: longer.cert, key: longer.key, clock: new VirtualClock(START) }).current().notAfter).toEqual(longer.notAfter);
  });

  it('rejects an expired certificate and a foreign key', async () => {
    const created = await createSelfSignedCertificate({ notBefore: new Date(START - 20 * DAY), validityDays: 10 });
    expectReason(() => CertificateManager.pinned({ cert: created.cert, key: created.key, clock: new VirtualClock(START) }), 'EXPIRED');
    const other = await createSelfSignedCertificate({ notBefore: new Date(START - DAY) });
    const mine = await createSelfSignedCertificate({ notBefore: new Date(START - DAY) });
    expectReason(() => CertificateManager.provided({ cert: mine.cert, key: other.key, clock: new VirtualClock(START) }), 'KEY_MISMATCH');
  });

  it('rejects an expected hash computed over the PEM text', async () => {
    const created = await createSelfSignedCertificate({ notBefore: new Date(START - DAY) });
    const pemHash = createHash('sha256').update(created.cert).digest('base64');
    expectReason(() => CertificateManager.pinned({ cert: created.cert, key: created.key, clock: new VirtualClock(START), expectedSha256: pemHash }), 'HASH_OVER_PEM');
  });
});

describe('certificate hashes', () => {
  it('hashes PEM text, PEM bytes and DER alike, over DER', async () => {
    const created = await createSelfSignedCertificate();
    const expected = Buffer.from(created.sha256).toString('hex');
    expect(hashCertificate(created.cert).hex).toBe(expected);
    expect(hashCertificate(Buffer.from(created.cert)).hex).toBe(expected);
    expect(hashCertificate(created.der).hex).toBe(expected);
    expect(hashCertificate(created.cert).hex).not.toBe(createHash('sha256').update(created.cert).digest('hex'));
  });

  it('rejects input that is not a certificate', () => {
    expectReason(() => hashCertificate('not a certificate'), 'INVALID_CERTIFICATE');
    expectReason(() => hashCertificate(Uint8Array.of(1, 2, 3)), 'INVALID_CERTIFICATE');
  });

  it('verifies DER hashes and refuses PEM-text hashes', async () => {
    const created = await createSelfSignedCertificate();
    verifyCertificateHash(created.cert, created.sha256);
    verifyCertificateHash(created.der, Buffer.from(created.sha256).toString('hex'));
    verifyCertificateHash(created.cert, Buffer.from(created.sha256).toString('base64'));
    expectReason(() => verifyCertificateHash(created.cert, createHash('sha256').update(created.cert).digest()), 'HASH_OVER_PEM');
    expectReason(() => verifyCertificateHash(created.der, createHash('sha256').update(new X509Certificate(created.der).toString()).digest('hex')), 'HASH_OVER_PEM');
    expectReason(() => verifyCertificateHash(created.cert, new Uint8Array(32)), 'HASH_MISMATCH');
  });
});

describe('certificate hashes endpoint', () => {
  async function withServer(run: (base: string) => Promise<void>): Promise<void> {
    const manager = await CertificateManager.selfSigned();
    const server = http.createServer(certificateHashesHandler(manager));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  it('serves the hashes with CORS for loopback pages', async () => {
    await withServer(async (base) => {
      const response = await fetch(`${base}/webtransport/cert-hashes`, { headers: { origin: 'http://localhost:5173' } });
      expect(response.status).toBe(200);
      expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
      expect(response.headers.get('cache-control')).toBe('no-store');
      const body = (await response.json()) as { hashes: Array<{ algorithm: string; value: string }> };
      expect(body.hashes).toHaveLength(1);
      expect(body.hashes[0]!.algorithm).toBe('sha-256');
      expect(Buffer.from(body.hashes[0]!.value, 'base64')).toHaveLength(32);
    });
  });

  it('omits CORS for other origins and answers preflight, 404 and 405', async () => {
    await withServer(async (base) => {
      const foreign = await fetch(`${base}/webtransport/cert-hashes`, { headers: { origin: 'https://example.org' } });
      expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
      const preflight = await fetch(`${base}/webtransport/cert-hashes`, { method: 'OPTIONS', headers: { origin: 'http://127.0.0.1:8080' } });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8080');
      expect((await fetch(`${base}/other`)).status).toBe(404);
      expect((await fetch(`${base}/webtransport/cert-hashes`, { method: 'POST' })).status).toBe(405);
    });
  });

  it('accepts only loopback origins by default', () => {
    expect(isLoopbackOrigin('http://localhost:3000')).toBe(true);
    expect(isLoopbackOrigin('https://[::1]:8443')).toBe(true);
    expect(isLoopbackOrigin('http://127.0.0.1')).toBe(true);
    expect(isLoopbackOrigin('http://localhost.example.com')).toBe(false);
    expect(isLoopbackOrigin('file://localhost')).toBe(false);
    expect(isLoopbackOrigin('null')).toBe(false);
  });
});
