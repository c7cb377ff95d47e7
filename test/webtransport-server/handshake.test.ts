// HTTP/3 SETTINGS exchange, extended CONNECT routing, origin and session-count checks, and the
// client's certificate trust, against a real listener on loopback.
import { createHash, X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { TransportError } from '../../src/errors.js';
import { connectHttp3 } from '../../transports/webtransport/dial.js';
import { SessionRejectedError } from '../../transports/webtransport/errors.js';
import { H3ErrorCode } from '../../transports/webtransport/h3/errors.js';
import { FrameParser } from '../../transports/webtransport/h3/frames.js';
import { SettingId, parseUniStreamPrefix } from '../../transports/webtransport/h3/settings.js';
import { webTransportSettings } from '../../transports/webtransport/settings.js';
import { connectHeaders, controlStream, headersFrame, waitForResponse } from './h3-bytes.js';
import { dial, logger, startServer, tlsMaterial, watchProcessFaults, type ServerHarness } from './helpers.js';
import { RawH3Peer } from './raw-h3-peer.js';

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

async function rawPeer(port: number): Promise<RawH3Peer> {
  const peer = await RawH3Peer.connect(port);
  cleanups.push(() => peer.close());
  return peer;
}

/** Reads the server's three unidirectional streams (ids 3, 7, 11) as type + rest. */
async function serverUniStreams(peer: RawH3Peer): Promise<Map<string, Buffer>> {
  const streams = new Map<string, Buffer>();
  const deadline = Date.now() + 5_000;
  const buffers = new Map<number, Buffer>([[3, Buffer.alloc(0)], [7, Buffer.alloc(0)], [11, Buffer.alloc(0)]]);
  while (streams.size < 3 && Date.now() < deadline) {
    for (const [streamId, buffer] of buffers) {
      const joined = Buffer.concat([buffer, peer.read(streamId)]);
      buffers.set(streamId, joined);
      const prefix = parseUniStreamPrefix(joined);
      if (prefix !== null && prefix.kind !== 'webtransport' && prefix.kind !== 'unknown') streams.set(prefix.kind, joined.subarray(prefix.length));
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return streams;
}

describe('webtransport handshake', () => {
  it('publishes the path and the DER hash of the certificate', async () => {
    const harness = await server();
    const tls = await tlsMaterial();
    const der = new X509Certificate(tls.cert).raw;
    expect(harness.listener.clientSettings).toEqual({
      path: '/pushlab',
      certificateHashes: [{ algorithm: 'sha-256', value: createHash('sha256').update(der).digest('base64') }],
    });
  });

  it('opens a session with pinned hashes only', async () => {
    const harness = await server();
    const client = await dial(harness);
    cleanups.push(async () => client.destroy());
    const accepted = await harness.nextAccepted();
    expect(accepted.connection.transport).toBe('webtransport');
    expect(client.maxDatagramSize).toBeGreaterThan(1000);
    expect(harness.listener.stats.sessionsAccepted).toBe(1);
    expect(harness.listener.sessionCount).toBe(1);
  });

  it('opens a session trusting tls.ca without hashes', async () => {
    const harness = await server();
    const client = await dial(harness, { ca: true, settings: { certificateHashes: undefined } });
    cleanups.push(async () => client.destroy());
    await harness.nextAccepted();
  });

  it('rejects a certificate whose hash is not pinned', async () => {
    const harness = await server();
    const wrong = [{ algorithm: 'sha-256', value: Buffer.alloc(32, 7).toString('base64') }];
    await expect(dial(harness, { settings: { certificateHashes: wrong, connectTimeoutMs: 2_000 } })).rejects.toBeInstanceOf(TransportError);
    expect(harness.listener.stats.sessionsAccepted).toBe(0);
  });

  it('refuses to dial without any trust material', async () => {
    const harness = await server();
    await expect(dial(harness, { settings: { certificateHashes: undefined } })).rejects.toThrow(/no trust material/);
  });

  it('sends SETTINGS with draft-02 WebTransport and QPACK streams', async () => {
    const harness = await server();
    const peer = await rawPeer(harness.port);
    peer.openUni(controlStream());
    const streams = await serverUniStreams(peer);
    expect([...streams.keys()].sort()).toEqual(['control', 'qpack-decoder', 'qpack-encoder']);
    const events = new FrameParser({ stream: 'control' }).push(streams.get('control')!);
    const settings = events.find((event) => event.type === 'settings');
    expect(settings?.type).toBe('settings');
    const values = settings!.type === 'settings' ? settings!.settings : new Map();
    expect(values.get(SettingId.ENABLE_WEBTRANSPORT_DRAFT02)).toBe(1n);
    expect(values.get(SettingId.H3_DATAGRAM)).toBe(1n);
    expect(values.get(SettingId.H3_DATAGRAM_DRAFT04)).toBe(1n);
    expect(values.get(SettingId.ENABLE_CONNECT_PROTOCOL)).toBe(1n);
    expect(values.get(SettingId.WEBTRANSPORT_MAX_SESSIONS)).toBe(1n);
    expect(values.get(SettingId.QPACK_MAX_TABLE_CAPACITY)).toBe(0n);
    expect(streams.get('qpack-encoder')!.length).toBe(0);
    expect(streams.get('qpack-decoder')!.length).toBe(0);
  });

  it('answers a draft-02 CONNECT with 200 and the draft field', async () => {
    const harness = await server();
    const peer = await rawPeer(harness.port);
    peer.openUni(controlStream());
    const response = await waitForResponse(peer, peer.openBidi(connectHeaders(harness.port)));
    expect(response.status).toBe(200);
    expect(response.fields).toContainEqual({ name: 'sec-webtransport-http3-draft', value: 'draft02' });
    await harness.nextAccepted();
  });

  it('answers an unknown path with 404', async () => {
    const harness = await server();
    const error = await dial(harness, { settings: { path: '/elsewhere' } }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).cause).toBeInstanceOf(SessionRejectedError);
    expect(((error as TransportError).cause as SessionRejectedError).status).toBe(404);
    expect(harness.listener.stats.sessionsRejected).toBe(1);
    expect(harness.accepted).toHaveLength(0);
  });

  it('routes by path without the query', async () => {
    const harness = await server({ path: '/push' });
    const peer = await rawPeer(harness.port);
    peer.openUni(controlStream());
    const response = await waitForResponse(peer, peer.openBidi(connectHeaders(harness.port, { path: '/push?device=1' })));
    expect(response.status).toBe(200);
  });

  it('answers a disallowed origin with 403', async () => {
    const harness = await server();
    const error = await dial(harness, { settings: { origin: 'https://evil.example' } }).catch((caught: unknown) => caught);
    expect(((error as TransportError).cause as SessionRejectedError).status).toBe(403);
    expect(harness.accepted).toHaveLength(0);
  });

  it('accepts loopback origins by default', async () => {
    const harness = await server();
    for (const origin of ['http://localhost:5173', 'https://127.0.0.1:8443', 'http://[::1]:3000']) {
      const client = await dial(harness, { settings: { origin } });
      client.destroy();
    }
    expect(harness.listener.stats.sessionsAccepted).toBe(3);
  });

  it('applies an allowedOrigins list', async () => {
    const harness = await server({ allowedOrigins: ['https://app.example'] });
    const client = await dial(harness, { settings: { origin: 'https://app.example' } });
    cleanups.push(async () => client.destroy());
    const error = await dial(harness).catch((caught: unknown) => caught);
    expect(((error as TransportError).cause as SessionRejectedError).status).toBe(403);
  });

  it('rejects a request without an origin unless any origin is allowed', async () => {
    const strict = await server();
    const peer = await rawPeer(strict.port);
    peer.openUni(controlStream());
    const noOrigin = headersFrame([
      { name: ':method', value: 'CONNECT' },
      { name: ':protocol', value: 'webtransport' },
      { name: ':scheme', value: 'https' },
      { name: ':authority', value: `127.0.0.1:${strict.port}` },
      { name: ':path', value: '/pushlab' },
    ]);
    expect((await waitForResponse(peer, peer.openBidi(noOrigin))).status).toBe(403);

    const open = await server({ allowedOrigins: '*' });
    const openPeer = await rawPeer(open.port);
    openPeer.openUni(controlStream());
    expect((await waitForResponse(openPeer, openPeer.openBidi(noOrigin))).status).toBe(200);
  });

  it('answers a second session on one connection with 429', async () => {
    const harness = await server();
    const settings = webTransportSettings('client', { ...harness.listener.clientSettings });
    const handle = await connectHttp3('webtransport', { host: '127.0.0.1', port: harness.port, maxFrameSize: 1024, logger }, settings);
    cleanups.push(() => handle.release());
    const options = { authority: `127.0.0.1:${harness.port}`, path: '/pushlab', origin: 'http://localhost' };
    await handle.h3.openSession(options);
    const error = await handle.h3.openSession(options).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SessionRejectedError);
    expect((error as SessionRejectedError).status).toBe(429);
  });

  it('answers a client without WebTransport SETTINGS with 400', async () => {
    const harness = await server();
    const peer = await rawPeer(harness.port);
    peer.openUni(controlStream(new Map([[SettingId.QPACK_MAX_TABLE_CAPACITY, 0n]])));
    expect((await waitForResponse(peer, peer.openBidi(connectHeaders(harness.port)))).status).toBe(400);
  });

  it('answers a GET with 405', async () => {
    const harness = await server();
    const peer = await rawPeer(harness.port);
    peer.openUni(controlStream());
    const get = headersFrame([
      { name: ':method', value: 'GET' },
      { name: ':scheme', value: 'https' },
      { name: ':authority', value: `127.0.0.1:${harness.port}` },
      { name: ':path', value: '/' },
    ]);
    expect((await waitForResponse(peer, peer.openBidi(get))).status).toBe(405);
  });

  it('resets a malformed CONNECT with H3_MESSAGE_ERROR', async () => {
    const harness = await server();
    const peer = await rawPeer(harness.port);
    peer.openUni(controlStream());
    const streamId = peer.openBidi(connectHeaders(harness.port, { authority: '' }));
    const deadline = Date.now() + 5_000;
    let code: number | null = null;
    while (code === null && Date.now() < deadline) {
      code = peer.resetCode(streamId);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(code).toBe(H3ErrorCode.H3_MESSAGE_ERROR);
    expect(harness.listener.stats.requestsReset).toBe(1);
    expect(peer.isClosed).toBe(false);
  });

  it('closes a connection that opens no session', async () => {
    const harness = await server({ handshakeTimeoutMs: 300 });
    const peer = await rawPeer(harness.port);
    peer.openUni(controlStream());
    const end = await peer.waitForClose(3_000);
    expect(end).toEqual({ isApp: true, errorCode: H3ErrorCode.H3_NO_ERROR });
  });
});
