// The listener's certificate: self-signed mode with published hashes, rotation that publishes the
// next certificate before it serves, and a certificate browsers cannot pin.
import { X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock.js';
import { TransportError } from '../../src/errors.js';
import { hashCertificate } from '../../src/tls/cert-manager.js';
import { createSelfSignedCertificate } from '../../src/tls/self-signed.js';
import { WebTransportTransport, type WebTransportListener } from '../../transports/webtransport/index.js';
import type { CertificateHash } from '../../transports/webtransport/settings.js';
import { Recorder, bytes, dial, logger, payload, startServer, watchProcessFaults, type ServerHarness } from './helpers.js';

watchProcessFaults();

const DAY_MS = 86_400_000;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

function hashOf(cert: string): CertificateHash {
  return { algorithm: 'sha-256', value: hashCertificate(cert).base64 };
}

/** Dials with `pins` as the only trust material and checks that a session opens. */
async function expectConnects(harness: ServerHarness, pins: CertificateHash[]): Promise<void> {
  const client = await dial(harness, { settings: { certificateHashes: pins } });
  cleanups.push(async () => client.destroy());
  await harness.nextAccepted();
}

async function expectRejected(harness: ServerHarness, pins: CertificateHash[]): Promise<void> {
  await expect(dial(harness, { settings: { certificateHashes: pins, connectTimeoutMs: 2_000 } })).rejects.toBeInstanceOf(TransportError);
}

async function server(options: Parameters<typeof startServer>[0]): Promise<ServerHarness> {
  const harness = await startServer(options);
  cleanups.push(() => harness.listener.close());
  return harness;
}

describe('webtransport certificates', () => {
  it('issues a pinnable certificate when no TLS material is given', async () => {
    const harness = await server({ tls: false });
    const served = new X509Certificate(harness.listener.certificates.serving().cert);
    expect(served.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(Date.parse(served.validTo) - Date.parse(served.validFrom)).toBeLessThan(14 * DAY_MS);
    expect(harness.listener.clientSettings.certificateHashes).toHaveLength(1);
    const client = await dial(harness);
    cleanups.push(async () => client.destroy());
    await harness.nextAccepted();
  });

  it('publishes at day 7, serves at expiry', async () => {
    // Eight days back, so day 7 and day 10 of the first certificate fall within the test while
    // every certificate the listener serves is valid at the real time the client checks it.
    const clock = new VirtualClock(Date.now() - 8 * DAY_MS);
    const harness = await server({ tls: false, clock, settings: { certificateManager: 'self-signed' } });
    const certificates = harness.listener.certificates;
    const manager = certificates.certificateManager!;
    const moveTo = async (instant: number): Promise<void> => {
      clock.advance(instant - clock.now());
      await manager.idle();
    };
    const a = manager.serving();
    const hashA = hashOf(certificates.serving().cert);
    const issueAt = a.notBefore.getTime() + 7 * DAY_MS;

    // Before day 7: only A is published and served.
    await moveTo(issueAt - 1);
    expect(harness.listener.clientSettings.certificateHashes).toEqual([hashA]);
    expect(hashOf(certificates.serving().cert)).toEqual(hashA);
    const before = new Recorder(await dial(harness, { settings: { certificateHashes: [hashA] } }));
    cleanups.push(async () => before.connection.destroy());
    const acceptedBefore = await harness.nextAccepted();

    // Day 7 to day 10: A and B are published, A still serves.
    await moveTo(issueAt);
    const published = harness.listener.clientSettings.certificateHashes;
    expect(published).toHaveLength(2);
    expect(published[0]).toEqual(hashA);
    const hashB = published[1]!;
    expect(hashOf(certificates.serving().cert)).toEqual(hashA);
    await expectConnects(harness, [hashA]);
    await expectConnects(harness, published);
    // A server presents one certificate per connection, and it is still A.
    await expectRejected(harness, [hashB]);

    await moveTo(a.notAfter.getTime() - 1);
    expect(harness.listener.clientSettings.certificateHashes).toEqual([hashA, hashB]);
    expect(hashOf(certificates.serving().cert)).toEqual(hashA);

    // A expires: B serves and A's hash is withdrawn.
    await moveTo(a.notAfter.getTime());
    expect(harness.listener.clientSettings.certificateHashes).toEqual([hashB]);
    expect(hashOf(certificates.serving().cert)).toEqual(hashB);
    await expectConnects(harness, [hashB]);
    await expectConnects(harness, [hashA, hashB]);
    await expectRejected(harness, [hashA]);

    // The connection opened on A before the switch carries on.
    before.connection.send(payload(32, 1));
    await acceptedBefore.frameCount(1);
    expect(bytes(acceptedBefore.frames[0])).toEqual(payload(32, 1));
  });

  it('publishes no hash for a certificate browsers cannot pin', async () => {
    const longLived = await createSelfSignedCertificate({ validityDays: 30 });
    const listener = (await new WebTransportTransport().listen(
      { host: '127.0.0.1', port: 0, maxFrameSize: 4096, tls: { cert: longLived.cert, key: longLived.key }, logger },
      () => {},
    )) as WebTransportListener;
    cleanups.push(() => listener.close());
    expect(listener.clientSettings.certificateHashes).toEqual([]);
    const client = await new WebTransportTransport().dial({
      host: '127.0.0.1',
      port: listener.address.port,
      maxFrameSize: 4096,
      tls: { ca: longLived.cert, serverName: 'localhost' },
      logger,
      settings: listener.clientSettings,
    });
    client.destroy();
  });
});
