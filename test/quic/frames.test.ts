import { afterEach, describe, expect, it } from 'vitest';
import { FrameTooLargeError } from '../../src/errors.js';
import { seededRandom } from '../../src/random.js';
import { bytes, dialClient, payload, Recorder, startServer, watchProcessFaults, type ServerHarness } from './helpers.js';

watchProcessFaults();

let server: ServerHarness | null = null;
afterEach(async () => {
  await server?.listener.close();
  server = null;
});

describe('quic frames', () => {
  it('round trip many frames both ways in order', async () => {
    server = await startServer();
    const client = new Recorder(await dialClient(server.port));
    const random = seededRandom(7);
    const sizes = Array.from({ length: 300 }, () => 1 + Math.floor(random() * 1_000));

    sizes.forEach((size, index) => client.connection.send(payload(size, index)));
    const accepted = await server.nextAccepted();
    await accepted.frameCount(sizes.length);
    expect(accepted.frames.map((frame) => frame.length)).toEqual(sizes);
    accepted.frames.forEach((frame, index) => expect(bytes(frame)).toEqual(payload(sizes[index]!, index)));

    sizes.forEach((size, index) => accepted.connection.send(payload(size, index + 1_000)));
    await client.frameCount(sizes.length);
    client.frames.forEach((frame, index) => expect(bytes(frame)).toEqual(payload(sizes[index]!, index + 1_000)));
    expect(client.errors).toEqual([]);
    expect(accepted.errors).toEqual([]);
    client.connection.destroy();
  });

  it('reassembles frames split across tiny reads', async () => {
    // A 5-byte read buffer splits length prefixes and bodies at every possible position.
    server = await startServer({ readableChunkSize: 5 });
    const client = new Recorder(await dialClient(server.port, { readableChunkSize: 3 }));
    const sizes = [1, 127, 128, 300, 16_383, 16_384, 20_000];
    sizes.forEach((size, index) => client.connection.send(payload(size, index)));
    const accepted = await server.nextAccepted();
    await accepted.frameCount(sizes.length);
    accepted.frames.forEach((frame, index) => expect(bytes(frame)).toEqual(payload(sizes[index]!, index)));

    sizes.forEach((size, index) => accepted.connection.send(payload(size, index + 50)));
    await client.frameCount(sizes.length);
    client.frames.forEach((frame, index) => expect(bytes(frame)).toEqual(payload(sizes[index]!, index + 50)));
    client.connection.destroy();
  });

  it('accepts a frame of exactly the maximum size', async () => {
    server = await startServer({}, 10_000);
    const client = new Recorder(await dialClient(server.port, {}, { maxFrameSize: 10_000 }));
    client.connection.send(payload(10_000, 1));
    const accepted = await server.nextAccepted();
    await accepted.frameCount(1);
    expect(bytes(accepted.frames[0])).toEqual(payload(10_000, 1));
    expect(accepted.errors).toEqual([]);
    client.connection.destroy();
  });

  it('rejects an oversized frame with onError', async () => {
    server = await startServer({}, 10_000);
    const client = new Recorder(await dialClient(server.port, {}, { maxFrameSize: 20_000 }));
    client.connection.send(payload(100, 1));
    client.connection.send(payload(10_001, 2));
    client.connection.send(payload(100, 3));
    const accepted = await server.nextAccepted();
    await accepted.until(() => accepted.errors.length > 0, 'onError');
    expect(accepted.errors[0]).toBeInstanceOf(FrameTooLargeError);
    expect((accepted.errors[0] as FrameTooLargeError).declaredLength).toBe(10_001);
    // Reading stopped at the bad prefix: the frame after it is never delivered.
    expect(accepted.frames).toHaveLength(1);
    client.connection.destroy();
  });

  it('holds server frames until the client stream exists', async () => {
    server = await startServer();
    const client = new Recorder(await dialClient(server.port));
    const accepted = await server.nextAccepted();
    accepted.connection.send(payload(10, 1));
    expect(accepted.connection.bufferedAmount).toBe(11);
    // QUIC announces the client's stream with its first bytes only.
    client.connection.send(payload(20, 2));
    await client.frameCount(1);
    expect(bytes(client.frames[0])).toEqual(payload(10, 1));
    await accepted.frameCount(1);
    await accepted.until(() => accepted.connection.bufferedAmount === 0, 'bufferedAmount 0');
    client.connection.destroy();
  });

  it('reports congestion and drains', async () => {
    server = await startServer({ initialMaxStreamData: 16 * 1024, initialMaxData: 32 * 1024 });
    const client = new Recorder(await dialClient(server.port, { highWaterMark: 32 * 1024 }));
    const count = 100;
    for (let index = 0; index < count; index += 1) client.connection.send(payload(1_000, index));
    expect(client.connection.congested).toBe(true);
    expect(client.connection.bufferedAmount).toBeGreaterThan(32 * 1024);

    await client.until(() => client.drains > 0, 'onDrain');
    expect(client.connection.congested).toBe(false);
    const accepted = await server.nextAccepted();
    await accepted.frameCount(count);
    await client.until(() => client.connection.bufferedAmount === 0, 'bufferedAmount 0');
    expect(client.connection.stats.writes).toBe(count);
    client.connection.destroy();
  });

  it('flushes queued frames on close', async () => {
    server = await startServer();
    const client = new Recorder(await dialClient(server.port));
    for (let index = 0; index < 200; index += 1) client.connection.send(payload(1_000, index));
    client.connection.close();
    const accepted = await server.nextAccepted();
    const info = await accepted.closed();
    expect(accepted.frames).toHaveLength(200);
    expect(info.error).toBeUndefined();
    const clientInfo = await client.closed();
    expect(clientInfo.error).toBeUndefined();
  });
});
