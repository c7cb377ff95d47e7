// The listener's certificate: self-signed mode with published hashes, rotation that new
// connections see while existing ones keep working, and a certificate browsers cannot pin.
import { X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock.js';
import { TransportError } from '../../src/errors.js';
import { createSelfSignedCertificate } from '../../src/tls/self-signed.js';
import { WebTransportTransport, type WebTransportListener } from '../../transports/webtransport/index.js';
import { Recorder, bytes, dial, logger, payload, startServer, watchProcessFaults, type ServerHarness } from './helpers.js';

watchProcessFaults();

const DAY_MS = 86_400_000;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function server(options: Parameters<typeof startServer>[0]): Promise<ServerHarness> {
  const harness = await startServer(options);
  cleanups.push(() => harness.listener.close());
  return harness;
}

describe('webtransport certificates', () => {
  it('issues a pinnable certificate when no TLS material is given', async () => {
    const harness = await server({ tls: false });
    const served = new X509Certificate(harness.listener.certificates.current().cert);
    expect(served.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(Date.parse(served.validTo) - Date.parse(served.validFrom)).toBeLessThan(14 * DAY_MS);
    expect(harness.listener.clientSettings.certificateHashes).toHaveLength(1);
    const client = await dial(harness);
    cleanups.push(async () => client.destroy());
    await harness.nextAccepted();
  });

  it('serves a rotated certificate to new connections only', async () => {
    // Eight days back, so the first certificate is due for rotation (day 7) within the test
    // while both certificates are valid at the real time the client checks them.
    const clock = new VirtualClock(Date.now() - 8 * DAY_MS);
    const harness = await server({ tls: false, clock, settings: { certificateManager: 'self-signed' } });
    const [first] = harness.listener.clientSettings.certificateHashes;
    const before = new Recorder(await dial(harness));
    cleanups.push(async () => before.connection.destroy());
    const acceptedBefore = await harness.nextAccepted();

    clock.advance(7 * DAY_MS + 60_000);
    await harness.listener.certificates.certificateManager!.idle();
    const hashes = harness.listener.clientSettings.certificateHashes;
    expect(hashes).toHaveLength(2);
    expect(hashes[1]).toEqual(first);

    const onlyNew = await dial(harness, { settings: { certificateHashes: [hashes[0]] } });
    cleanups.push(async () => onlyNew.destroy());
    await harness.nextAccepted();
    await expect(dial(harness, { settings: { certificateHashes: [first], connectTimeoutMs: 2_000 } })).rejects.toBeInstanceOf(TransportError);

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
