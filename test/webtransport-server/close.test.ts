// Ending sessions: orderly close from either side, destroy, CLOSE_WEBTRANSPORT_SESSION with a
// code (in a DATA frame and bare), a reset pushlab stream, and listener shutdown with GOAWAY.
import { afterEach, describe, expect, it } from 'vitest';
import { connectHttp3 } from '../../transports/webtransport/dial.js';
import { SessionClosedError, StreamResetError, webTransportCodeToHttp3 } from '../../transports/webtransport/errors.js';
import { encodeCloseSessionCapsule } from '../../transports/webtransport/h3/capsules.js';
import { encodeDataFrame } from '../../transports/webtransport/h3/frames.js';
import { SessionCloseCode, type WebTransportConnection } from '../../transports/webtransport/index.js';
import type { SessionCloseInfo } from '../../transports/webtransport/session.js';
import { webTransportSettings } from '../../transports/webtransport/settings.js';
import { rawSession } from './h3-bytes.js';
import { Recorder, bytes, dial, logger, payload, startServer, until, watchProcessFaults, type ServerHarness } from './helpers.js';

watchProcessFaults();

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function server(settings: Record<string, unknown> = {}): Promise<ServerHarness> {
  const harness = await startServer({ settings });
  cleanups.push(() => harness.listener.close());
  return harness;
}

async function pair(harness: ServerHarness): Promise<{ client: Recorder<WebTransportConnection>; server: Recorder<WebTransportConnection> }> {
  const connection = await dial(harness);
  cleanups.push(async () => connection.destroy());
  return { client: new Recorder(connection), server: await harness.nextAccepted() };
}

async function manualSession(harness: ServerHarness) {
  const settings = webTransportSettings('client', { ...harness.listener.clientSettings });
  const handle = await connectHttp3('webtransport', { host: '127.0.0.1', port: harness.port, maxFrameSize: 1024, logger }, settings);
  cleanups.push(() => handle.release());
  const session = await handle.h3.openSession({ authority: `127.0.0.1:${harness.port}`, path: '/pushlab', origin: 'http://localhost' });
  const closes: SessionCloseInfo[] = [];
  let draining = 0;
  session.on('close', (info) => closes.push(info));
  session.on('draining', () => (draining += 1));
  session.start();
  return { handle, session, closes, draining: () => draining };
}

describe('webtransport close', () => {
  it('flushes every frame when the client closes', async () => {
    const harness = await server();
    const { client, server: accepted } = await pair(harness);
    for (let index = 0; index < 10; index += 1) client.connection.send(payload(500, index));
    client.connection.close();
    await accepted.frameCount(10);
    expect((await accepted.closed()).error).toBeUndefined();
    expect((await client.closed()).error).toBeUndefined();
    expect(accepted.frames.map((frame) => bytes(frame))).toEqual(Array.from({ length: 10 }, (_, index) => payload(500, index)));
    await until(() => harness.listener.sessionCount === 0, 'the session to leave the listener');
  });

  it('flushes every frame when the server closes', async () => {
    const harness = await server();
    const { client, server: accepted } = await pair(harness);
    client.connection.send(payload(10, 0));
    await accepted.frameCount(1);
    for (let index = 0; index < 10; index += 1) accepted.connection.send(payload(700, index));
    accepted.connection.close();
    await client.frameCount(10);
    expect((await client.closed()).error).toBeUndefined();
    expect((await accepted.closed()).error).toBeUndefined();
    await until(() => harness.listener.sessionCount === 0, 'the session to leave the listener');
  });

  it('reports destroy to the peer as session code 1', async () => {
    const harness = await server();
    const { client, server: accepted } = await pair(harness);
    client.connection.send(payload(10, 0));
    await accepted.frameCount(1);
    client.connection.destroy();
    const info = await accepted.closed();
    expect(info.error).toBeInstanceOf(SessionClosedError);
    expect((info.error as SessionClosedError).sessionCode).toBe(SessionCloseCode.DESTROYED);
  });

  it('passes a close code and reason to the pushlab connection', async () => {
    const harness = await server();
    const { session } = await manualSession(harness);
    const accepted = await harness.nextAccepted();
    session.close(7, 'seven');
    const info = await accepted.closed();
    expect(info.error).toBeInstanceOf(SessionClosedError);
    expect((info.error as SessionClosedError).sessionCode).toBe(7);
    expect((info.error as SessionClosedError).reason).toBe('seven');
  });

  it('reads CLOSE_WEBTRANSPORT_SESSION in a DATA frame and bare', async () => {
    const harness = await server();
    for (const [code, framed] of [
      [9, true],
      [10, false],
    ] as const) {
      const peer = await rawSession(harness.port);
      cleanups.push(() => peer.close());
      const accepted = await harness.nextAccepted();
      const capsule = encodeCloseSessionCapsule(code, framed ? 'in data' : 'bare');
      peer.write(0, framed ? encodeDataFrame(capsule) : capsule, true);
      const info = await accepted.closed();
      expect((info.error as SessionClosedError).sessionCode).toBe(code);
      expect((info.error as SessionClosedError).reason).toBe(framed ? 'in data' : 'bare');
    }
  });

  it('treats a FIN on the CONNECT stream as close code 0', async () => {
    const harness = await server();
    const peer = await rawSession(harness.port);
    cleanups.push(() => peer.close());
    const accepted = await harness.nextAccepted();
    peer.write(0, new Uint8Array(0), true);
    expect((await accepted.closed()).error).toBeUndefined();
  });

  it('reports a reset pushlab stream as an error', async () => {
    const harness = await server();
    const { session } = await manualSession(harness);
    const accepted = await harness.nextAccepted();
    const stream = session.openBidiStream();
    await stream.write(Uint8Array.from([1, 0x42]));
    await accepted.frameCount(1);
    stream.reset(5);
    const info = await accepted.closed();
    expect(info.error).toBeInstanceOf(StreamResetError);
    expect(BigInt((info.error as StreamResetError).applicationCode)).toBe(webTransportCodeToHttp3(5));
    expect(info.error?.message).toMatch(/reset by the peer with WebTransport code 5/);
  });

  it('sends GOAWAY and drains on shutdown, then closes with code 2', async () => {
    const harness = await startServer({ settings: { shutdownGraceMs: 300 } });
    const { handle, closes, draining } = await manualSession(harness);
    await harness.nextAccepted();
    const closing = harness.listener.close();
    await until(() => handle.h3.receivedGoaway !== null, 'GOAWAY');
    expect(handle.h3.receivedGoaway! % 4n).toBe(0n);
    await until(() => draining() === 1, 'DRAIN_WEBTRANSPORT_SESSION');
    await closing;
    await until(() => closes.length === 1, 'the session to close');
    expect(closes[0]).toMatchObject({ code: SessionCloseCode.GOING_AWAY, reason: 'server shutting down', initiator: 'peer' });
    await expect(handle.h3.openSession({ authority: `127.0.0.1:${harness.port}`, path: '/pushlab', origin: 'http://localhost' })).rejects.toThrow();
  });

  it('lets sessions that close during the grace period end cleanly', async () => {
    const harness = await startServer({ settings: { shutdownGraceMs: 2_000 } });
    const { client, server: accepted } = await pair(harness);
    client.connection.send(payload(10, 0));
    await accepted.frameCount(1);
    const started = Date.now();
    const closing = harness.listener.close();
    accepted.connection.send(payload(20, 1));
    accepted.connection.close();
    await closing;
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await client.closed()).error).toBeUndefined();
    expect(bytes(client.frames[0])).toEqual(payload(20, 1));
  });
});
