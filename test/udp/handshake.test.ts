import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock.js';
import { AuthError, ConfigError, TransportError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { generateUdpKeyPair, UdpTransport, type UdpConnection, type UdpListener } from '../../transports/udp/index.js';
import { HOST, startPair, waitFor, type Pair } from './helpers.js';
import { LossyRelay } from './lossy-relay.js';

let pair: Pair | null = null;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  await pair?.close();
  pair = null;
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function listenWithKey(privateKey: string, settings: Record<string, unknown> = {}): Promise<UdpListener> {
  const transport = new UdpTransport();
  const listener = (await transport.listen(
    { host: HOST, port: 0, maxFrameSize: 65_536, logger: silentLogger(), settings: { staticPrivateKey: privateKey, ...settings } },
    () => {},
  )) as UdpListener;
  cleanups.push(() => listener.close());
  return listener;
}

describe('udp handshake', () => {
  it('transport describes itself', () => {
    const transport = new UdpTransport();
    expect(transport.name).toBe('udp');
    expect(transport.kind).toBe('datagram');
    expect(transport.secure).toBe(true);
  });

  it('exchanges frames both ways', async () => {
    pair = await startPair();
    pair.client.send(Buffer.from('hello from client'));
    pair.server.send(Buffer.from('hello from server'));
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length === 1, 'server frame');
    await pair.clientEvents.until(() => pair!.clientEvents.frames.length === 1, 'client frame');
    expect(pair.serverEvents.framesAsText()).toEqual(['hello from client']);
    expect(pair.clientEvents.framesAsText()).toEqual(['hello from server']);
    expect(pair.client.transport).toBe('udp');
    expect(pair.client.stats.writes).toBeGreaterThan(0);
    expect(pair.server.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('completes under 30% loss in both directions', async () => {
    pair = await startPair({
      relay: { seed: 7, lossToServer: 0.3, lossToClient: 0.3 },
      dialSettings: { handshakeTimeoutMs: 8_000, handshakeRetryMs: 100, handshakeMaxRetryMs: 400 },
    });
    pair.client.send(Buffer.from('after a lossy handshake'));
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length === 1, 'frame after lossy handshake');
    expect(pair.serverEvents.framesAsText()).toEqual(['after a lossy handshake']);
    expect(pair.relay!.stats('toServer').dropped + pair.relay!.stats('toClient').dropped).toBeGreaterThan(0);
  });

  it('completes across seeds under 30% loss', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const attempt = await startPair({
        relay: { seed, lossToServer: 0.3, lossToClient: 0.3 },
        dialSettings: { handshakeTimeoutMs: 8_000, handshakeRetryMs: 100, handshakeMaxRetryMs: 400 },
      });
      expect(attempt.client.closed).toBe(false);
      await attempt.close();
    }
  });

  it('fails with AuthError when the pinned key is wrong', async () => {
    const serverKeys = generateUdpKeyPair();
    const otherKeys = generateUdpKeyPair();
    const listener = await listenWithKey(serverKeys.privateKey);
    const dial = new UdpTransport().dial({
      host: HOST,
      port: listener.address.port,
      maxFrameSize: 65_536,
      logger: silentLogger(),
      settings: { serverPublicKey: otherKeys.publicKey, handshakeTimeoutMs: 5_000 },
    });
    await expect(dial).rejects.toBeInstanceOf(AuthError);
    await expect(dial).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    expect(listener.counters.handshakesRejected).toBeGreaterThanOrEqual(1);
    expect(listener.connectionCount).toBe(0);
  });

  it('times out with CONNECT_TIMEOUT when nobody answers', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, HOST, resolve));
    cleanups.push(() => new Promise<void>((resolve) => silent.close(() => resolve())));
    const started = Date.now();
    const dial = new UdpTransport().dial({
      host: HOST,
      port: silent.address().port,
      maxFrameSize: 65_536,
      logger: silentLogger(),
      settings: { serverPublicKey: generateUdpKeyPair().publicKey, handshakeTimeoutMs: 400, handshakeRetryMs: 50 },
    });
    await expect(dial).rejects.toBeInstanceOf(TransportError);
    await expect(dial).rejects.toMatchObject({ code: 'CONNECT_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('honours an AbortSignal', async () => {
    const keys = generateUdpKeyPair();
    const listener = await listenWithKey(keys.privateKey);
    // A relay that drops everything keeps the dial pending until the abort.
    const relay = await LossyRelay.start({ server: { host: HOST, port: listener.address.port }, seed: 1, lossToServer: 1 });
    cleanups.push(() => relay.close());
    const controller = new AbortController();
    const dial = new UdpTransport().dial({
      host: HOST,
      port: relay.port,
      maxFrameSize: 65_536,
      logger: silentLogger(),
      signal: controller.signal,
      settings: { serverPublicKey: keys.publicKey },
    });
    setTimeout(() => controller.abort(), 100);
    await expect(dial).rejects.toMatchObject({ name: 'TransportError', code: 'TRANSPORT_FAILED' });

    const aborted = new AbortController();
    aborted.abort();
    await expect(
      new UdpTransport().dial({ host: HOST, port: listener.address.port, maxFrameSize: 65_536, logger: silentLogger(), signal: aborted.signal, settings: { serverPublicKey: keys.publicKey } }),
    ).rejects.toBeInstanceOf(TransportError);
  });

  it('requires address validation above the cookie threshold', async () => {
    pair = await startPair({ listenSettings: { cookieThreshold: 0 } });
    pair.client.send(Buffer.from('validated'));
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length === 1, 'frame after RETRY');
    expect(pair.listener.counters.retriesSent).toBeGreaterThanOrEqual(1);
  });

  it('demands cookies when handshakes per second exceed the threshold', async () => {
    // A clock that never moves keeps all three dials inside one load-counting second.
    const keys = generateUdpKeyPair();
    const listener = await listenWithKey(keys.privateKey, { cookieThreshold: 2, clock: new VirtualClock() });
    const transport = new UdpTransport();
    for (let i = 0; i < 3; i++) {
      const client = await transport.dial({ host: HOST, port: listener.address.port, maxFrameSize: 1024, logger: silentLogger(), settings: { serverPublicKey: keys.publicKey } });
      cleanups.push(() => client.destroy());
    }
    expect(listener.counters.retriesSent).toBe(1);
    expect(listener.counters.invalidCookies).toBe(0);
  });

  it('listener without a key generates one and publishes it', async () => {
    const transport = new UdpTransport();
    const listener = (await transport.listen({ host: HOST, port: 0, maxFrameSize: 1024, logger: silentLogger() }, () => {})) as UdpListener;
    cleanups.push(() => listener.close());
    expect(Buffer.from(listener.clientSettings.serverPublicKey, 'base64url')).toHaveLength(32);
    const client = await transport.dial({ host: HOST, port: listener.address.port, maxFrameSize: 1024, logger: silentLogger(), settings: listener.clientSettings });
    cleanups.push(() => client.destroy());
    expect(client.closed).toBe(false);
  });

  it('rejects malformed key settings with ConfigError', async () => {
    const transport = new UdpTransport();
    await expect(transport.listen({ host: HOST, port: 0, maxFrameSize: 1024, logger: silentLogger(), settings: { staticPrivateKey: 'c2hvcnQ' } }, () => {})).rejects.toBeInstanceOf(ConfigError);
    await expect(transport.dial({ host: HOST, port: 9, maxFrameSize: 1024, logger: silentLogger() })).rejects.toBeInstanceOf(ConfigError);
    await expect(transport.dial({ host: HOST, port: 9, maxFrameSize: 1024, logger: silentLogger(), settings: { serverPublicKey: 'c2hvcnQ' } })).rejects.toBeInstanceOf(ConfigError);
    await expect(transport.dial({ host: HOST, port: 9, maxFrameSize: 1024, logger: silentLogger(), settings: { serverPublicKey: Buffer.alloc(32) } })).rejects.toBeInstanceOf(ConfigError);
    await expect(transport.dial({ host: HOST, port: 9, maxFrameSize: 1024, logger: silentLogger(), settings: { minRtoMs: -1 } })).rejects.toBeInstanceOf(ConfigError);
  });

  it('server connection is announced once per client', async () => {
    pair = await startPair();
    const second = (await pair.transport.dial({
      host: HOST,
      port: pair.listener.address.port,
      maxFrameSize: 65_536,
      logger: silentLogger(),
      settings: { serverPublicKey: pair.keys.publicKey },
    })) as UdpConnection;
    cleanups.push(() => second.destroy());
    expect(second.cid.equals(pair.client.cid)).toBe(false);
    await waitFor(() => pair!.listener.connectionCount === 2, 'second connection');
    expect(pair.listener.connectionCount).toBe(2);
  });
});
