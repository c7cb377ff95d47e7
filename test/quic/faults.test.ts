import dgram from 'node:dgram';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, TransportError } from '../../src/errors.js';
import { QuicTransport } from '../../transports/quic/index.js';
import { dialClient, logger, payload, Recorder, startServer, tlsMaterial, UdpRelay, watchProcessFaults, type ServerHarness } from './helpers.js';

watchProcessFaults();

let server: ServerHarness | null = null;
let relay: UdpRelay | null = null;
afterEach(async () => {
  await relay?.close();
  relay = null;
  await server?.listener.close();
  server = null;
});

/** A UDP port on loopback with nothing bound to it. */
async function closedPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

describe('quic faults', () => {
  it('notices a killed client through the idle timeout', async () => {
    server = await startServer({ maxIdleTimeoutMs: 1_000 });
    const tls = await tlsMaterial();
    const child = fork(fileURLToPath(new URL('./fixtures/vanishing-client.ts', import.meta.url)), [String(server.port)], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, PUSHLAB_TEST_CA: tls.cert },
      stdio: 'ignore',
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`client process exited early with code ${code}`)));
    });
    const accepted = await server.nextAccepted();
    await accepted.frameCount(1);
    const killedAt = Date.now();
    child.kill('SIGKILL');

    const info = await accepted.closed(5_000);
    expect(info.error).toBeInstanceOf(TransportError);
    expect(info.error?.message).toMatch(/idle timeout/);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(900);
  });

  it('closes both ends when the path goes silent', async () => {
    server = await startServer({ maxIdleTimeoutMs: 800 });
    relay = await UdpRelay.start(server.port);
    const client = new Recorder(await dialClient(relay.port, { maxIdleTimeoutMs: 800, keepAliveIntervalMs: 200 }));
    client.connection.send(payload(10, 1));
    const accepted = await server.nextAccepted();
    await accepted.frameCount(1);
    relay.dropping = true;

    const clientInfo = await client.closed(3_000);
    expect(clientInfo.error?.message).toMatch(/idle timeout/);
    const serverInfo = await accepted.closed(3_000);
    expect(serverInfo.error?.message).toMatch(/idle timeout/);
  });

  it('keeps an idle session alive with keep-alive', async () => {
    server = await startServer({ maxIdleTimeoutMs: 600 });
    const client = new Recorder(await dialClient(server.port, { maxIdleTimeoutMs: 600, keepAliveIntervalMs: 150 }));
    client.connection.send(payload(10, 1));
    const accepted = await server.nextAccepted();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(client.closeInfo).toBeNull();
    expect(accepted.closeInfo).toBeNull();
    client.connection.destroy();
  });

  it('reports close to clients when the server stops with open streams', async () => {
    server = await startServer();
    const clients = await Promise.all([0, 1, 2].map(async () => new Recorder(await dialClient(server!.port))));
    clients.forEach((client, index) => client.connection.send(payload(10, index)));
    const accepted = await Promise.all(clients.map(() => server!.nextAccepted()));
    await Promise.all(accepted.map((recorder) => recorder.frameCount(1)));
    expect(server.listener.connectionCount).toBe(3);

    await server.listener.close();
    for (const recorder of [...accepted, ...clients]) await recorder.closed(3_000);
    expect(server.listener.connectionCount).toBe(0);
    clients.forEach((client) => client.connection.send(payload(10, 9)));
    expect(clients.every((client) => client.connection.closed)).toBe(true);
  });

  it('rejects a dial to a closed port within the connect timeout', async () => {
    const port = await closedPort();
    const started = Date.now();
    const dial = dialClient(port, { connectTimeoutMs: 800 });
    await expect(dial).rejects.toBeInstanceOf(TransportError);
    await expect(dial).rejects.toMatchObject({ code: 'CONNECT_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('rejects a dial when its signal aborts', async () => {
    const port = await closedPort();
    const controller = new AbortController();
    const started = Date.now();
    const dial = dialClient(port, { connectTimeoutMs: 10_000 }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await expect(dial).rejects.toThrow(/aborted/);
    expect(Date.now() - started).toBeLessThan(2_000);

    await expect(dialClient(port, {}, { signal: AbortSignal.abort() })).rejects.toThrow(/aborted/);
  });

  it('tells the peer about destroy', async () => {
    server = await startServer();
    const client = new Recorder(await dialClient(server.port));
    client.connection.send(payload(10, 1));
    const accepted = await server.nextAccepted();
    await accepted.frameCount(1);
    client.connection.destroy();
    expect(client.closeInfo).toEqual({});
    // destroy() resets the stream without flushing, so the peer may see the reset before the
    // CONNECTION_CLOSE; either way it learns of the end at once, not through the idle timeout.
    const info = await accepted.closed(1_000);
    if (info.error !== undefined) expect(info.error.message).toMatch(/reset by the peer/);
  });

  it('destroys a connection whose handler throws', async () => {
    const tls = await tlsMaterial();
    const listener = await new QuicTransport().listen({ host: '127.0.0.1', port: 0, maxFrameSize: 1024, tls: { cert: tls.cert, key: tls.key }, logger }, () => {
      throw new Error('handler failure');
    });
    try {
      const client = new Recorder(await dialClient(listener.address.port));
      client.connection.send(payload(10, 1));
      await client.closed();
    } finally {
      await listener.close();
    }
  });

  it('rejects invalid settings', async () => {
    const tls = await tlsMaterial();
    const transport = new QuicTransport();
    const listen = (settings: Record<string, unknown>) =>
      transport.listen({ host: '127.0.0.1', port: 0, maxFrameSize: 1024, tls: { cert: tls.cert, key: tls.key }, logger, settings }, () => {});
    await expect(listen({ maxIdleTimeoutMs: 0 })).rejects.toBeInstanceOf(ConfigError);
    await expect(listen({ maxIdleTimeoutMs: 1_000, keepAliveIntervalMs: 1_000 })).rejects.toBeInstanceOf(ConfigError);
    await expect(listen({ alpnProtocols: [] })).rejects.toBeInstanceOf(ConfigError);
    await expect(transport.listen({ host: '127.0.0.1', port: 0, maxFrameSize: 1024, logger }, () => {})).rejects.toBeInstanceOf(TransportError);
  });
});
