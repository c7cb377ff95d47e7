import { afterEach, describe, expect, it } from 'vitest';
import { lengthPrefixed } from '../../src/codec/frame-codec.js';
import { TransportError } from '../../src/errors.js';
import { createSelfSignedCertificate } from '../../src/tls/self-signed.js';
import { DEFAULT_ALPN } from '../../transports/quic/settings.js';
import type { QuicConnection } from '../../transports/quic/index.js';
import { bytes, dialClient, longHeaderType, payload, Recorder, startServer, UdpRelay, watchProcessFaults, type ServerHarness } from './helpers.js';
import { RawQuicPeer } from './raw-peer.js';

watchProcessFaults();

let server: ServerHarness | null = null;
let relay: UdpRelay | null = null;
afterEach(async () => {
  await relay?.close();
  relay = null;
  await server?.listener.close();
  server = null;
});

/** Dials through a relay and counts the Initial datagrams of the client's first flight. */
async function dialThroughRelay(alpnProtocols: string[]): Promise<{ client: QuicConnection; firstFlight: number }> {
  relay = await UdpRelay.start(server!.port);
  const client = await dialClient(relay.port, { alpnProtocols });
  // The first flight is what the client sent before the server's stateless Retry came back.
  const flight = relay.toServer.slice(0, relay.sentBeforeFirstReply ?? 0);
  const firstFlight = flight.filter((datagram) => longHeaderType(datagram) === 'initial').length;
  return { client, firstFlight };
}

describe('quic handshake', () => {
  it('completes with a ClientHello in one Initial packet', async () => {
    server = await startServer();
    const { client, firstFlight } = await dialThroughRelay([DEFAULT_ALPN]);
    expect(firstFlight).toBe(1);
    client.destroy();
  });

  it('completes with a ClientHello spanning two Initial packets', async () => {
    server = await startServer();
    // 120 extra ALPN ids add about 2 KB to the ClientHello, more than one 1,200-byte Initial holds.
    const filler = Array.from({ length: 120 }, (_, index) => `filler-protocol-${index}`);
    const { client, firstFlight } = await dialThroughRelay([DEFAULT_ALPN, ...filler]);
    expect(firstFlight).toBeGreaterThanOrEqual(2);
    // The second Initial after the Retry arrived while the first one's accept was in flight.
    expect(server.listener.acceptStats.queuedPackets).toBeGreaterThanOrEqual(1);

    const recorder = new Recorder(client);
    client.send(payload(100, 1));
    const accepted = await server.nextAccepted();
    await accepted.frameCount(1);
    accepted.connection.send(payload(50, 2));
    await recorder.frameCount(1);
    expect(bytes(recorder.frames[0])).toEqual(payload(50, 2));
    client.destroy();
  });

  it('survives peer streams opened during the starting state', async () => {
    server = await startServer();
    const frame = payload(40, 3);
    // Both streams leave in the datagram that carries the client's Finished, so the server sees
    // them in the same recv that completes its handshake, while the connection is still starting.
    const peer = await RawQuicPeer.connect({
      serverPort: server.port,
      onEstablished: (connection) => {
        connection.streamSend(2, Buffer.from('unidirectional'), false);
        connection.streamSend(0, lengthPrefixed(frame), false);
      },
    });
    const accepted = await server.nextAccepted();
    await accepted.frameCount(1);
    expect(bytes(accepted.frames[0])).toEqual(frame);
    expect((accepted.connection as QuicConnection).peerStreamsArrivedEarly).toBe(true);

    accepted.connection.send(payload(30, 4));
    let reply = Buffer.alloc(0);
    await accepted.until(() => {
      reply = Buffer.concat([reply, peer.read(0)]);
      return reply.length >= 31;
    }, 'server reply on the raw peer');
    expect(reply).toEqual(lengthPrefixed(payload(30, 4)));
    expect(accepted.closeInfo).toBeNull();
    await peer.close();
    const info = await accepted.closed();
    expect(info.error).toBeUndefined();
  });

  it('rejects a certificate from an untrusted issuer', async () => {
    server = await startServer();
    const other = await createSelfSignedCertificate();
    const dial = dialClient(server.port, { connectTimeoutMs: 3_000 }, { ca: other.cert });
    await expect(dial).rejects.toBeInstanceOf(TransportError);
    await expect(dial).rejects.toThrow(/failed/);
  });

  it('rejects a certificate for another name', async () => {
    server = await startServer();
    await expect(dialClient(server.port, { connectTimeoutMs: 3_000 }, { serverName: 'push.example.org' })).rejects.toBeInstanceOf(TransportError);
  });

  it('accepts an IP address server name matching an IP SAN', async () => {
    server = await startServer();
    const client = await dialClient(server.port, {}, { serverName: '127.0.0.1' });
    expect(client.closed).toBe(false);
    client.destroy();
  });
});
