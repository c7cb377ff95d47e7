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
  type CertificateHashEntry,
  type ManagedCertificate,
} from '../../src/tls/cert-manager.js';
import { createSelfSignedCertificate } from '../../src/tls/self-signed.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const START = Date.UTC(2030, 0, 1);

function hexOf(certificate: ManagedCertificate): string {
  return Buffer.from(certificate.sha256).toString('hex');
}

function hexes(entries: CertificateHashEntry[]): string[] {
  return entries.map((entry) => entry.hex);
}

/** Moves `clock` to `instant` and waits for the rotation work its timers started. */
async function advanceTo(clock: VirtualClock, instant: number): Promise<void> {
  clock.advance(instant - clock.now());
  await manager?.idle();
}

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

let manager: CertificateManager | undefined;

describe('cert manager self-signed mode', () => {
  afterEach(() => {
    manager?.stop();
    manager = undefined;
  });

  it('issues an ECDSA P-256 certificate valid 10 days', async () => {
    const clock = new VirtualClock(START);
    manager = await CertificateManager.selfSigned({ clock });
    const current = manager.serving();
    const parsed = new X509Certificate(current.cert);
    expect(parsed.publicKey.asymmetricKeyType).toBe('ec');
    expect(parsed.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(current.notAfter.getTime() - current.notBefore.getTime()).toBe(10 * DAY);
    expect(current.notBefore.getTime()).toBeLessThanOrEqual(START);
    expect(() => checkPinnable(current.cert)).not.toThrow();
  });

  it('publishes the SHA-256 of the DER bytes', async () => {
    manager = await CertificateManager.selfSigned({ clock: new VirtualClock(START) });
    const der = new X509Certificate(manager.serving().cert).raw;
    const digest = createHash('sha256').update(der).digest();
    expect(manager.hashes()).toEqual([
      { algorithm: 'sha-256', value: digest.toString('base64'), hex: digest.toString('hex'), notAfter: manager.serving().notAfter.toISOString() },
    ]);
  });

  it('publishes at day 7, serves at expiry', async () => {
    const clock = new VirtualClock(START);
    manager = await CertificateManager.selfSigned({ clock });
    const a = manager.serving();
    const events: string[] = [];
    manager.on('issued', (certificate) => events.push(`issued ${hexOf(certificate)}`));
    manager.on('serving', (certificate) => events.push(`serving ${hexOf(certificate)}`));
    manager.start();
    const issueAt = a.notBefore.getTime() + 7 * DAY;

    // Before day 7: only A is published and served.
    await advanceTo(clock, issueAt - 1);
    expect(manager.serving()).toBe(a);
    expect(manager.upcoming()).toBeNull();
    expect(hexes(manager.hashes())).toEqual([hexOf(a)]);
    expect(events).toEqual([]);

    // Day 7: B is issued and published next to A, but A still serves.
    await advanceTo(clock, issueAt);
    const b = manager.upcoming()!;
    expect(b).not.toBeNull();
    expect(b.notBefore.getTime()).toBeLessThanOrEqual(issueAt);
    expect(b.notAfter.getTime() - b.notBefore.getTime()).toBe(10 * DAY);
    expect(manager.serving()).toBe(a);
    expect(hexes(manager.hashes())).toEqual([hexOf(a), hexOf(b)]);
    expect(events).toEqual([`issued ${hexOf(b)}`]);

    // The last instant of A: it still serves.
    await advanceTo(clock, a.notAfter.getTime() - 1);
    expect(manager.serving()).toBe(a);
    expect(hexes(manager.hashes())).toEqual([hexOf(a), hexOf(b)]);

    // A expires: B serves, and A's hash is withdrawn.
    await advanceTo(clock, a.notAfter.getTime());
    expect(manager.serving()).toBe(b);
    expect(manager.upcoming()).toBeNull();
    expect(hexes(manager.hashes())).toEqual([hexOf(b)]);
    expect(manager.validCertificates()).toEqual([b]);
    expect(events).toEqual([`issued ${hexOf(b)}`, `serving ${hexOf(b)}`]);

    // B's own day 7 publishes C; B serves until it expires.
    await advanceTo(clock, b.notBefore.getTime() + 7 * DAY);
    const c = manager.upcoming()!;
    expect(hexes(manager.hashes())).toEqual([hexOf(b), hexOf(c)]);
    await advanceTo(clock, b.notAfter.getTime());
    expect(manager.serving()).toBe(c);
    expect(events).toHaveLength(4);
  });

  it('rotates through rotateIfDue without timers', async () => {
    const clock = new VirtualClock(START);
    manager = await CertificateManager.selfSigned({ clock });
    const a = manager.serving();
    const issueAt = a.notBefore.getTime() + 7 * DAY;
    expect(await manager.rotateIfDue(issueAt - 1)).toEqual([]);

    // Concurrent calls run one after another: the second finds nothing left to do.
    const [first, second] = await Promise.all([manager.rotateIfDue(issueAt), manager.rotateIfDue(issueAt)]);
    expect(first.map((step) => step.event)).toEqual(['issued']);
    expect(second).toEqual([]);
    const b = first[0]!.certificate;
    expect(manager.upcoming()).toBe(b);

    expect(await manager.rotateIfDue(a.notAfter.getTime() - 1)).toEqual([]);
    expect(await manager.rotateIfDue(a.notAfter.getTime())).toEqual([{ event: 'serving', certificate: b }]);
    expect(manager.serving()).toBe(b);
    expect(clock.pendingTimers).toBe(0);
  });

  it('never lists an expired certificate', async () => {
    const clock = new VirtualClock(START);
    manager = await CertificateManager.selfSigned({ clock });
    const a = manager.serving();
    const [{ certificate: b }] = await manager.rotateIfDue(a.notBefore.getTime() + 7 * DAY);
    expect(hexes(manager.hashes(a.notAfter.getTime() - 1))).toEqual([hexOf(a), hexOf(b!)]);
    expect(hexes(manager.hashes(a.notAfter.getTime()))).toEqual([hexOf(b!)]);
    // No step ran at A's expiry, so A is still the one a listener would present.
    expect(manager.serving()).toBe(a);
    expect(hexes(manager.hashes(b!.notAfter.getTime()))).toEqual([]);
  });

  it('keeps invariants over 40 days', async () => {
    const clock = new VirtualClock(START);
    manager = await CertificateManager.selfSigned({ clock });
    const served: ManagedCertificate[] = [manager.serving()];
    const events: string[] = [];
    manager.on('issued', () => events.push('issued'));
    manager.on('serving', (certificate) => {
      events.push('serving');
      served.push(certificate);
    });
    manager.start();
    for (let hour = 1; hour <= 40 * 24; hour++) {
      await advanceTo(clock, START + hour * HOUR);
      const now = clock.now();
      const listed = hexes(manager.hashes());
      expect(manager.serving().notAfter.getTime()).toBeGreaterThan(now);
      expect(listed[0]).toBe(hexOf(manager.serving()));
      expect(listed.length).toBeLessThanOrEqual(2);
      for (const certificate of manager.validCertificates()) expect(certificate.notAfter.getTime()).toBeGreaterThan(now);
    }
    expect(served.length).toBeGreaterThanOrEqual(4);
    expect(events.slice(0, 8)).toEqual(['issued', 'serving', 'issued', 'serving', 'issued', 'serving', 'issued', 'serving']);
    for (let index = 1; index < served.length; index++) {
      const previous = served[index - 1]!;
      const next = served[index]!;
      // Issued at day 7 of the previous one and back-dated a minute, so published 3 days before
      // the previous one expires and it starts serving.
      expect(next.notBefore.getTime() + MINUTE).toBe(previous.notBefore.getTime() + 7 * DAY);
      expect(previous.notAfter.getTime() - (next.notBefore.getTime() + MINUTE)).toBe(3 * DAY);
    }
  });

  it('serves a fresh certificate after a clock jump', async () => {
    const clock = new VirtualClock(START);
    manager = await CertificateManager.selfSigned({ clock });
    const a = manager.serving();
    manager.start();
    await advanceTo(clock, START + 30 * DAY);
    const served = manager.serving();
    expect(served).not.toBe(a);
    expect(served.notBefore.getTime()).toBeLessThanOrEqual(clock.now());
    expect(served.notAfter.getTime()).toBeGreaterThan(clock.now() + 9 * DAY);
    expect(hexes(manager.hashes())).toEqual([hexOf(served)]);
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
    expect(CertificateManager.provided({ cert: longer.cert, key: longer.key, clock: new VirtualClock(START) }).serving().notAfter).toEqual(longer.notAfter);
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
