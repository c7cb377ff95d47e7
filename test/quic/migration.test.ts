import { afterEach, describe, expect, it } from 'vitest';
import { bytes, dialClient, payload, Recorder, startServer, UdpRelay, watchProcessFaults, type ServerHarness } from './helpers.js';
import type { QuicConnection } from '../../transports/quic/index.js';

watchProcessFaults();

let server: ServerHarness | null = null;
let relay: UdpRelay | null = null;
afterEach(async () => {
  await relay?.close();
  relay = null;
  await server?.listener.close();
  server = null;
});

describe('quic migration', () => {
  it('keeps the session across a NAT rebinding', async () => {
    server = await startServer();
    relay = await UdpRelay.start(server.port);
    const client = new Recorder(await dialClient(relay.port));
    client.connection.send(payload(10, 1));
    const accepted = await server.nextAccepted();
    await accepted.frameCount(1);
    const serverSide = accepted.connection as QuicConnection;
    const oldPort = relay.upstreamPort;
    expect(serverSide.currentRemoteAddress).toBe(`127.0.0.1:${oldPort}`);

    // The client's packets now leave the "NAT" from another port; the client itself does not know.
    await relay.rebind();
    client.connection.send(payload(20, 2));
    await accepted.frameCount(2);
    expect(bytes(accepted.frames[1])).toEqual(payload(20, 2));
    await accepted.until(() => serverSide.currentRemoteAddress === `127.0.0.1:${relay!.upstreamPort}`, 'server to adopt the new path');
    expect(relay.upstreamPort).not.toBe(oldPort);

    // Replies take the new path, and the session goes on in both directions.
    accepted.connection.send(payload(30, 3));
    await client.frameCount(1);
    expect(bytes(client.frames[0])).toEqual(payload(30, 3));
    client.connection.sendUnreliable(payload(40, 4));
    await accepted.frameCount(3);
    expect(client.closeInfo).toBeNull();
    expect(accepted.closeInfo).toBeNull();
    // The server still names the connection by the address it was accepted from.
    expect(accepted.connection.remoteAddress).toBe(`127.0.0.1:${oldPort}`);
    client.connection.destroy();
  });
});
