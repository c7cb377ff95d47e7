import { afterEach, describe, expect, it } from 'vitest';
import { bytes, dialClient, payload, Recorder, startServer, watchProcessFaults, type ServerHarness } from './helpers.js';

watchProcessFaults();

let server: ServerHarness | null = null;
afterEach(async () => {
  await server?.listener.close();
  server = null;
});

describe('quic concurrency', () => {
  it('serves 50 concurrent connections', async () => {
    server = await startServer();
    const count = 50;
    const clients = await Promise.all(Array.from({ length: count }, async () => new Recorder(await dialClient(server!.port))));
    clients.forEach((client, index) => client.connection.send(payload(64, index)));
    const accepted = await Promise.all(clients.map(() => server!.nextAccepted(10_000)));
    expect(server.listener.connectionCount).toBe(count);

    // Echo each first frame back, then check that every client got its own bytes.
    await Promise.all(accepted.map((recorder) => recorder.frameCount(1)));
    accepted.forEach((recorder) => recorder.connection.send(recorder.frames[0]!));
    await Promise.all(clients.map((client) => client.frameCount(1)));
    clients.forEach((client, index) => expect(bytes(client.frames[0])).toEqual(payload(64, index)));

    clients.forEach((client) => client.connection.close());
    await Promise.all(accepted.map((recorder) => recorder.closed()));
    await Promise.all(clients.map((client) => client.closed()));
    expect(clients.every((client) => client.closeInfo?.error === undefined)).toBe(true);
    await accepted[0]!.until(() => server!.listener.connectionCount === 0, 'every server connection to stop');
  });
});
