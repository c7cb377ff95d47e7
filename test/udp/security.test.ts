import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import type { UdpConnection } from '../../transports/udp/index.js';
import { HOST, numbered, startPair, waitFor, type Pair } from './helpers.js';

const DATA = 0x05;
/** Offset of the first ciphertext byte in a DATA datagram: type, connection id, packet number. */
const CIPHERTEXT_OFFSET = 1 + 8 + 6;

let pair: Pair | null = null;
const sockets: dgram.Socket[] = [];

afterEach(async () => {
  await pair?.close();
  pair = null;
  for (const socket of sockets.splice(0)) socket.close();
});

async function foreignSocket(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  sockets.push(socket);
  return socket;
}

describe('udp security', () => {
  it('drops a tampered datagram and keeps the connection', async () => {
    pair = await startPair({ relay: { seed: 1 }, dialSettings: { minRtoMs: 50 } });
    let tampered = 0;
    pair.relay!.filter = (direction, datagram) => {
      if (direction !== 'toServer' || datagram[0] !== DATA || tampered > 0) return 'pass';
      tampered += 1;
      const copy = Buffer.from(datagram);
      copy[CIPHERTEXT_OFFSET + 2]! ^= 0x40;
      return copy;
    };
    const frames = numbered('intact', 5);
    for (const frame of frames) pair.client.send(frame);
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length === 5, 'five frames');

    expect(tampered).toBe(1);
    expect(pair.server.counters.authFailures).toBe(1);
    expect(pair.server.closed).toBe(false);
    expect(pair.serverEvents.framesAsText()).toEqual(frames.map((frame) => frame.toString()));
    expect(pair.serverEvents.errors).toEqual([]);
  });

  it('drops a datagram with an altered header', async () => {
    pair = await startPair({ relay: { seed: 2 }, dialSettings: { minRtoMs: 50 } });
    let altered = false;
    pair.relay!.filter = (direction, datagram) => {
      if (direction !== 'toServer' || datagram[0] !== DATA || altered) return 'pass';
      altered = true;
      const copy = Buffer.from(datagram);
      // The packet number is associated data: changing it must break the tag. The high byte is
      // flipped so the number is new to the replay window and reaches the AEAD check.
      copy[1 + 8]! ^= 0x01;
      return copy;
    };
    pair.client.send(Buffer.from('header intact'));
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length === 1, 'frame after header tampering');
    expect(pair.server.counters.authFailures).toBe(1);
  });

  it('drops replayed datagrams', async () => {
    pair = await startPair({ relay: { seed: 3 } });
    pair.relay!.record = true;
    const frames = numbered('once', 10);
    for (const frame of frames) pair.client.send(frame);
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length === 10, 'ten frames');

    const captured = pair.relay!.recorded('toServer').filter((datagram) => datagram[0] === DATA);
    expect(captured.length).toBeGreaterThan(0);
    for (const datagram of captured) pair.relay!.inject('toServer', datagram);
    await waitFor(() => pair!.server.counters.replaysDropped >= captured.length, 'replays dropped');
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(pair.server.counters.replaysDropped).toBe(captured.length);
    expect(pair.serverEvents.framesAsText()).toEqual(frames.map((frame) => frame.toString()));
  });

  it('ignores a replayed INIT of an established connection', async () => {
    pair = await startPair({ relay: { seed: 4, record: true } });
    pair.client.send(Buffer.from('x'));
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length === 1, 'frame');
    const init = pair.relay!.recorded('toServer').find((datagram) => datagram[0] === 0x01)!;
    expect(init).toBeDefined();
    const attacker = await foreignSocket();
    const answers: Buffer[] = [];
    attacker.on('message', (datagram) => answers.push(datagram));
    const received = pair.listener.counters.datagramsReceived;
    attacker.send(init, pair.listener.address.port, HOST);
    pair.relay!.inject('toServer', init);
    await waitFor(() => pair!.listener.counters.datagramsReceived >= received + 2, 'replayed INITs received');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(pair.listener.connectionCount).toBe(1);
    expect(answers).toEqual([]);
  });

  it('keeps the session when the client address changes', async () => {
    pair = await startPair({ relay: { seed: 5 } });
    pair.client.send(Buffer.from('before'));
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length === 1, 'frame before rebinding');
    const oldPort = pair.relay!.upstreamPort;
    expect(pair.server.peerAddress.port).toBe(oldPort);

    await pair.relay!.rebind();
    expect(pair.relay!.upstreamPort).not.toBe(oldPort);
    pair.client.send(Buffer.from('after'));
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length === 2, 'frame after rebinding');
    pair.server.send(Buffer.from('reply to the new address'));
    await pair.clientEvents.until(() => pair!.clientEvents.frames.length === 1, 'reply after rebinding');

    expect(pair.server.peerAddress.port).toBe(pair.relay!.upstreamPort);
    expect(pair.server.counters.migrations).toBe(1);
    expect(pair.serverEvents.framesAsText()).toEqual(['before', 'after']);
    expect(pair.clientEvents.framesAsText()).toEqual(['reply to the new address']);
  });

  it('does not migrate on an unauthenticated datagram', async () => {
    pair = await startPair();
    const before = pair.server.peerAddress;
    const attacker = await foreignSocket();
    const forged = Buffer.alloc(64, 0xab);
    forged[0] = DATA;
    pair.client.cid.copy(forged, 1);
    forged.writeUIntBE(1_000_000, 9, 6);
    attacker.send(forged, pair.listener.address.port, HOST);
    await waitFor(() => pair!.server.counters.authFailures === 1, 'forged datagram counted');

    expect(pair.server.peerAddress).toEqual(before);
    expect(pair.server.counters.migrations).toBe(0);
    pair.server.send(Buffer.from('still reaches the client'));
    await pair.clientEvents.until(() => pair!.clientEvents.frames.length === 1, 'frame on the old path');
  });

  it('does not migrate on a replayed datagram from another address', async () => {
    pair = await startPair({ relay: { seed: 6 } });
    pair.relay!.record = true;
    pair.client.send(Buffer.from('recorded'));
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length === 1, 'recorded frame');
    const recorded = pair.relay!.recorded('toServer').find((datagram) => datagram[0] === DATA)!;
    const before = pair.server.peerAddress;
    const attacker = await foreignSocket();
    attacker.send(recorded, pair.listener.address.port, HOST);
    await waitFor(() => pair!.server.counters.replaysDropped === 1, 'replay counted');
    expect(pair.server.peerAddress).toEqual(before);
  });

  it('drops garbage and unknown connection ids at the listener', async () => {
    pair = await startPair();
    const attacker = await foreignSocket();
    attacker.send(Buffer.from([0x05, 1, 2]), pair.listener.address.port, HOST);
    const unknown = Buffer.alloc(64);
    unknown[0] = DATA;
    attacker.send(unknown, pair.listener.address.port, HOST);
    attacker.send(Buffer.alloc(100, 0x01), pair.listener.address.port, HOST);
    await waitFor(() => pair!.listener.counters.datagramsReceived >= 5, 'garbage received');
    expect(pair.listener.counters.malformed).toBeGreaterThanOrEqual(2);
    expect(pair.listener.counters.unknownConnection).toBe(1);
    expect(pair.server.closed).toBe(false);
  });

  it('bounds half-open handshakes', async () => {
    pair = await startPair({ listenSettings: { maxHalfOpen: 1, cookieThreshold: 1_000 } });
    const transport = pair.transport;
    // A dial through a relay that drops everything towards the client leaves one half-open entry.
    const { LossyRelay } = await import('./lossy-relay.js');
    const relay = await LossyRelay.start({ server: { host: HOST, port: pair.listener.address.port }, seed: 1, lossToClient: 1 });
    const stuck = transport
      .dial({ host: HOST, port: relay.port, maxFrameSize: 1024, logger: silentLogger(), settings: { serverPublicKey: pair.keys.publicKey, handshakeTimeoutMs: 600 } })
      .catch((error: Error) => error);
    await waitFor(() => pair!.listener.halfOpenCount === 1, 'one half-open handshake');
    const refused = await transport
      .dial({ host: HOST, port: pair.listener.address.port, maxFrameSize: 1024, logger: silentLogger(), settings: { serverPublicKey: pair.keys.publicKey, handshakeTimeoutMs: 300 } })
      .catch((error: Error) => error);
    expect(refused).toMatchObject({ code: 'CONNECT_TIMEOUT' });
    expect(pair.listener.counters.halfOpenDropped).toBeGreaterThan(0);
    expect(await stuck).toMatchObject({ code: 'CONNECT_TIMEOUT' });
    await relay.close();
  });

  it('encrypts frame contents on the wire', async () => {
    pair = await startPair({ relay: { seed: 7 } });
    pair.relay!.record = true;
    const secret = 'very-secret-push-payload';
    pair.client.send(Buffer.from(secret));
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length === 1, 'secret frame');
    const wire = Buffer.concat(pair.relay!.recorded('toServer'));
    expect(wire.includes(Buffer.from(secret))).toBe(false);
    expect((pair.server as UdpConnection).counters.authFailures).toBe(0);
  });
});
