// The key session flows through the real Gateway and PushClient over WebTransport: connect and
// authenticate, push and ack, heartbeats (client pings travel as datagrams), resume, client
// close, FRAME_TOO_LARGE and GOING_AWAY on shutdown. The registry here holds only 'webtransport',
// registered the way transports/index.ts would register it.
import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode, ResumeStatus } from '../../src/codec/proto.js';
import type { ReceivedMessage } from '../../src/client/client.js';
import { TransportRegistry } from '../../src/transport/registry.js';
import { WebTransportTransport, type WebTransportListener } from '../../transports/webtransport/index.js';
import { startGateway, waitFor, type GatewayFixture } from '../helpers/gateway-fixture.js';
import { RawSession } from '../helpers/raw-session.js';
import { watchProcessFaults } from './helpers.js';

watchProcessFaults();

const TRANSPORT = 'webtransport';

function registry(): TransportRegistry {
  return new TransportRegistry().register(TRANSPORT, () => new WebTransportTransport(TRANSPORT));
}

const text = (value: string): Uint8Array => Buffer.from(value);
const payloads = (messages: ReceivedMessage[]): string[] => messages.map((message) => Buffer.from(message.payload).toString());

let fixture: GatewayFixture | null = null;
afterEach(async () => {
  await fixture?.close();
  fixture = null;
});

async function gateway(options: Parameters<typeof startGateway>[1] = {}): Promise<GatewayFixture> {
  fixture = await startGateway([TRANSPORT], { registry: registry(), ...options });
  return fixture;
}

describe('gateway over webtransport', () => {
  it('connects and authenticates', async () => {
    const { client, gateway: server } = await gateway();
    const phone = client(TRANSPORT, { deviceId: 'phone' });
    const welcome = await phone.connect();
    expect(welcome.sessionId).not.toBe('');
    expect(phone.state.kind).toBe('connected');
    expect(server.sessionCount).toBe(1);
  });

  it('delivers pushes and clears the inbox on ack', async () => {
    const current = await gateway();
    const phone = current.client(TRANSPORT, { deviceId: 'phone' });
    const received: ReceivedMessage[] = [];
    phone.on('message', (message) => received.push(message));
    await phone.connect();
    for (let index = 0; index < 30; index += 1) await current.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: text(`m${index}`) });
    await waitFor(() => received.length === 30, 10_000, '30 pushes');
    await waitFor(() => current.gateway.devices.get('alice', 'phone')!.inbox.pendingCount === 0, 10_000, 'acks');
    expect(payloads(received)).toEqual(Array.from({ length: 30 }, (_, index) => `m${index}`));
  });

  it('keeps a session alive with heartbeats', async () => {
    const current = await gateway({ heartbeat: { intervalMs: 100, timeoutMs: 400 } });
    const phone = current.client(TRANSPORT, { deviceId: 'phone' });
    await phone.connect();
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(phone.state.kind).toBe('connected');
    expect(phone.stats.heartbeatTimeouts).toBe(0);
    expect(phone.stats.heartbeatBytes).toBeGreaterThan(0);
    expect(current.gateway.sessionCount).toBe(1);
  });

  it('resumes with exactly the missing messages', async () => {
    const current = await gateway();
    const phone = current.client(TRANSPORT, { deviceId: 'phone' });
    const received: ReceivedMessage[] = [];
    const welcomes: number[] = [];
    phone.on('message', (message) => received.push(message));
    await phone.connect();
    for (let index = 0; index < 3; index += 1) await current.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: text(`a${index}`) });
    await waitFor(() => received.length === 3);
    await waitFor(() => current.gateway.devices.get('alice', 'phone')!.inbox.pendingCount === 0, 5_000, 'acks before the drop');

    phone.on('welcome', (welcome) => welcomes.push(welcome.resume?.status ?? 0));
    phone.dropConnection();
    await waitFor(() => current.gateway.sessionCount === 0, 10_000, 'the gateway to notice the drop');
    for (let index = 0; index < 3; index += 1) await current.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: text(`b${index}`) });
    await waitFor(() => received.length === 6, 10_000, 'the missing messages');
    expect(welcomes).toEqual([ResumeStatus.RESUMED]);
    expect(payloads(received)).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2']);
    expect(phone.stats.duplicatesReceived).toBe(0);
  });

  it('ends the gateway session when the client closes', async () => {
    const current = await gateway();
    const phone = current.client(TRANSPORT, { deviceId: 'phone' });
    await phone.connect();
    phone.close();
    await waitFor(() => current.gateway.sessionCount === 0, 5_000, 'the session to end');
    const listener = current.gateway.listeners[0]!;
    expect(listener.transport).toBe(TRANSPORT);
  });

  it('closes an oversized frame with FRAME_TOO_LARGE', async () => {
    const current = await gateway({ maxFrameSize: 2048 });
    const raw = await RawSession.open(current, TRANSPORT);
    raw.hello(current, { userId: 'alice', deviceId: 'raw' });
    await raw.waitForFrame('welcome');
    raw.send({ publish: { clientSeq: 1, payload: new Uint8Array(4096) } });
    expect(await raw.waitForClose()).toBe(CloseCode.FRAME_TOO_LARGE);
  });

  it('sends GOING_AWAY when the gateway shuts down', async () => {
    const current = await gateway();
    const phone = current.client(TRANSPORT, { deviceId: 'phone' });
    const warnings: number[] = [];
    phone.on('warning', (error) => warnings.push(error.closeCode));
    await phone.connect();
    await current.gateway.close();
    await waitFor(() => warnings.includes(CloseCode.GOING_AWAY), 10_000, 'GOING_AWAY');
  });

  it('publishes the pinned hashes to clients', async () => {
    const current = await gateway();
    const listener = current.gateway.listeners[0]!;
    expect(listener.clientSettings).toMatchObject({ path: '/pushlab', certificateHashes: [{ algorithm: 'sha-256' }] });
    // The fixture's clients trust both the CA and the hashes; a client with the hashes alone connects too.
    const phone = current.client(TRANSPORT, { deviceId: 'phone', tls: {} });
    await phone.connect();
    expect((current.gateway as unknown as { transportListeners: WebTransportListener[] }).transportListeners[0]!.stats.sessionsAccepted).toBe(1);
  });
});
