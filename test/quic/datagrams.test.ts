import { afterEach, describe, expect, it } from 'vitest';
import { bytes, dialClient, payload, Recorder, startServer, UdpRelay, watchProcessFaults, type ServerHarness } from './helpers.js';
import { longHeaderType } from './helpers.js';

watchProcessFaults();

let server: ServerHarness | null = null;
let relay: UdpRelay | null = null;
afterEach(async () => {
  await relay?.close();
  relay = null;
  await server?.listener.close();
  server = null;
});

describe('quic datagrams', () => {
  it('carry unreliable frames both ways', async () => {
    server = await startServer();
    const client = new Recorder(await dialClient(server.port));
    expect(client.connection.datagramsAvailable).toBe(true);
    client.connection.send(payload(5, 0));
    const accepted = await server.nextAccepted();
    await accepted.frameCount(1);
    const streamWrites = client.connection.stats.writes;

    client.connection.sendUnreliable(payload(200, 1));
    await accepted.frameCount(2);
    expect(bytes(accepted.frames[1])).toEqual(payload(200, 1));
    // A datagram frame carries the body without the stream's length prefix.
    expect(client.connection.stats.writes).toBe(streamWrites + 1);
    expect(client.connection.bufferedAmount).toBe(0);

    accepted.connection.sendUnreliable(payload(300, 2));
    await client.frameCount(1);
    expect(bytes(client.frames[0])).toEqual(payload(300, 2));
    client.connection.destroy();
  });

  it('travel as short-header packets on the wire', async () => {
    server = await startServer();
    relay = await UdpRelay.start(server.port);
    const client = await dialClient(relay.port);
    client.send(payload(5, 0));
    const accepted = await server.nextAccepted();
    await accepted.frameCount(1);
    const before = relay.toServer.length;
    client.sendUnreliable(payload(700, 3));
    await accepted.frameCount(2);
    const sent = relay.toServer.slice(before);
    // Late handshake packets may still cross the relay under load, so look for the one that
    // carries the 700-byte frame rather than requiring every packet to be short-header.
    const carrier = sent.filter((datagram) => datagram.length >= 700);
    expect(carrier.length).toBeGreaterThanOrEqual(1);
    expect(carrier.every((datagram) => longHeaderType(datagram) === 'short')).toBe(true);
    client.destroy();
  });

  it('fall back to the stream when the peer has none', async () => {
    server = await startServer({ datagrams: false });
    const client = new Recorder(await dialClient(server.port));
    expect(client.connection.datagramsAvailable).toBe(false);
    client.connection.sendUnreliable(payload(100, 4));
    const accepted = await server.nextAccepted();
    await accepted.frameCount(1);
    expect(bytes(accepted.frames[0])).toEqual(payload(100, 4));
    client.connection.destroy();
  });

  it('fall back to the stream for frames too large for one packet', async () => {
    server = await startServer();
    const client = new Recorder(await dialClient(server.port));
    client.connection.sendUnreliable(payload(5_000, 5));
    const accepted = await server.nextAccepted();
    await accepted.frameCount(1);
    expect(bytes(accepted.frames[0])).toEqual(payload(5_000, 5));
    client.connection.destroy();
  });
});
