// Pushlab frames over a WebTransport session: the length-prefixed stream, datagrams for
// unreliable frames, the reroute of frames too large for a datagram, and maxFrameSize.
import { afterEach, describe, expect, it } from 'vitest';
import { FrameTooLargeError } from '../../src/errors.js';
import type { WebTransportConnection } from '../../transports/webtransport/index.js';
import { Recorder, bytes, dial, payload, startServer, watchProcessFaults, type ServerHarness } from './helpers.js';

watchProcessFaults();

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function pair(options: { serverMaxFrameSize?: number; clientMaxFrameSize?: number } = {}): Promise<{ harness: ServerHarness; client: Recorder<WebTransportConnection>; server: Recorder<WebTransportConnection> }> {
  const harness = await startServer(options.serverMaxFrameSize ? { maxFrameSize: options.serverMaxFrameSize } : {});
  cleanups.push(() => harness.listener.close());
  const connection = await dial(harness, options.clientMaxFrameSize ? { maxFrameSize: options.clientMaxFrameSize } : {});
  cleanups.push(async () => connection.destroy());
  const client = new Recorder(connection);
  const server = await harness.nextAccepted();
  return { harness, client, server };
}

describe('webtransport frames', () => {
  it('carries frames both ways in order', async () => {
    const { client, server } = await pair();
    for (let index = 0; index < 20; index += 1) client.connection.send(payload(100 + index, index));
    await server.frameCount(20);
    expect(server.frames.map((frame) => bytes(frame))).toEqual(Array.from({ length: 20 }, (_, index) => payload(100 + index, index)));
    for (let index = 0; index < 20; index += 1) server.connection.send(payload(50 + index, 100 + index));
    await client.frameCount(20);
    expect(client.frames.map((frame) => bytes(frame))).toEqual(Array.from({ length: 20 }, (_, index) => payload(50 + index, 100 + index)));
    expect(server.connection.stats.bytesReceived).toBe(Array.from({ length: 20 }, (_, index) => 100 + index).reduce((sum, value) => sum + value, 0));
  });

  it('carries a frame that spans many packets', async () => {
    const { client, server } = await pair();
    const big = payload(60_000, 3);
    client.connection.send(big);
    await server.frameCount(1, 10_000);
    expect(bytes(server.frames[0])).toEqual(big);
  });

  it('raises FrameTooLargeError for an oversized stream frame', async () => {
    const { client, server } = await pair({ serverMaxFrameSize: 1024, clientMaxFrameSize: 64 * 1024 });
    client.connection.send(payload(2048, 1));
    await server.until(() => server.errors.length > 0, 'a framing error');
    expect(server.errors[0]).toBeInstanceOf(FrameTooLargeError);
    expect((server.errors[0] as FrameTooLargeError).declaredLength).toBe(2048);
    expect(server.frames).toHaveLength(0);
  });

  it('sends small unreliable frames as datagrams both ways', async () => {
    const { client, server } = await pair();
    client.connection.sendUnreliable(payload(200, 5));
    await server.frameCount(1);
    expect(bytes(server.frames[0])).toEqual(payload(200, 5));
    expect(client.connection.datagramStats).toEqual({ sent: 1, received: 0, rerouted: 0 });
    expect(server.connection.datagramStats.received).toBe(1);

    server.connection.sendUnreliable(payload(300, 6));
    await client.frameCount(1);
    expect(bytes(client.frames[0])).toEqual(payload(300, 6));
    expect(client.connection.datagramStats.received).toBe(1);
    expect(server.connection.datagramStats.sent).toBe(1);
  });

  it('reroutes an unreliable frame too large for a datagram', async () => {
    const { harness, client, server } = await pair();
    const size = client.connection.maxDatagramSize + 1;
    client.connection.sendUnreliable(payload(size, 7));
    await server.frameCount(1);
    expect(bytes(server.frames[0])).toEqual(payload(size, 7));
    expect(client.connection.datagramStats).toEqual({ sent: 0, received: 0, rerouted: 1 });
    expect(server.connection.datagramStats.received).toBe(0);

    server.connection.sendUnreliable(payload(4000, 8));
    await client.frameCount(1);
    expect(bytes(client.frames[0])).toEqual(payload(4000, 8));
    expect(server.connection.datagramStats.rerouted).toBe(1);
    expect(harness.listener.stats.unreliableRerouted).toBe(1);
  });

  it('sends a frame of exactly the datagram capacity as a datagram', async () => {
    const { client, server } = await pair();
    const size = client.connection.maxDatagramSize;
    client.connection.sendUnreliable(payload(size, 9));
    await server.frameCount(1);
    expect(bytes(server.frames[0])).toEqual(payload(size, 9));
    expect(client.connection.datagramStats.sent).toBe(1);
  });

  it('raises FrameTooLargeError for an oversized datagram and keeps the session', async () => {
    const { client, server } = await pair({ serverMaxFrameSize: 512 });
    client.connection.sendUnreliable(payload(800, 10));
    await server.until(() => server.errors.length > 0, 'a datagram framing error');
    expect(server.errors[0]).toBeInstanceOf(FrameTooLargeError);
    client.connection.send(payload(100, 11));
    await server.frameCount(1);
    expect(bytes(server.frames[0])).toEqual(payload(100, 11));
  });

  it('mixes stream and datagram frames without loss', async () => {
    const { client, server } = await pair();
    const expected: Buffer[] = [];
    for (let index = 0; index < 30; index += 1) {
      const frame = payload(index % 3 === 0 ? 3000 : 200, index);
      expected.push(frame);
      if (index % 2 === 0) client.connection.sendUnreliable(frame);
      else client.connection.send(frame);
    }
    await server.frameCount(30);
    // Datagrams may overtake stream frames; on loopback none is lost, so the sets match.
    const received = server.frames.map((frame) => bytes(frame).toString('hex')).sort();
    expect(received).toEqual(expected.map((frame) => frame.toString('hex')).sort());
    expect(client.connection.datagramStats.rerouted).toBe(5);
  });
});
