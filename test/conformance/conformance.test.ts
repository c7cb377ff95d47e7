// One conformance suite for every registered transport: the same session protocol cases over real
// loopback sockets. A transport plug-in is done when it passes all of them.
import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode, ResumeStatus } from '../../src/codec/proto.js';
import { encodeVarint } from '../../src/codec/varint.js';
import { MessageTooLargeError } from '../../src/errors.js';
import { LinkEmulator } from '../../src/emulator/emulator.js';
import type { ReceivedMessage } from '../../src/client/client.js';
import { builtinTransports } from '../../transports/index.js';
import { startGateway, TEST_SECRET, waitFor, type GatewayFixture } from '../helpers/gateway-fixture.js';
import { HmacTokenAuthority } from '../../src/gateway/auth.js';
import { VirtualClock } from '../../src/clock.js';
import { RawSession } from '../helpers/raw-session.js';

const TRANSPORTS = builtinTransports().names();
const text = (value: string): Uint8Array => Buffer.from(value);
const payloads = (messages: ReceivedMessage[]): string[] => messages.map((m) => Buffer.from(m.payload).toString());

let fixture: GatewayFixture | null = null;
let emulator: LinkEmulator | null = null;
afterEach(async () => {
  await emulator?.close();
  emulator = null;
  await fixture?.close();
  fixture = null;
});

async function metricValue(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await fixture!.gateway.metrics.registry.getSingleMetric(name)!.get();
  return metric.values
    .filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))
    .reduce((sum, v) => sum + v.value, 0);
}

describe.each(TRANSPORTS)('conformance over %s', (transport) => {
  it('connects and authenticates', async () => {
    fixture = await startGateway([transport]);
    const client = fixture.client(transport, { deviceId: 'phone' });
    const welcome = await client.connect();
    expect(welcome.sessionId).not.toBe('');
    expect(Number(welcome.epoch)).toBe(1);
    expect(welcome.resume?.status ?? ResumeStatus.NEW).toBe(ResumeStatus.NEW);
    expect(client.state.kind).toBe('connected');
    expect(fixture.gateway.sessionCount).toBe(1);
  });

  it('rejects a token for another user', async () => {
    fixture = await startGateway([transport]);
    const client = fixture.client(transport, { userId: 'mallory', deviceId: 'phone', token: fixture.authority.issue({ userId: 'alice', ttlMs: 60_000 }) });
    await expect(client.connect()).rejects.toMatchObject({ closeCode: CloseCode.AUTH_FAILED });
    expect(await metricValue('pushlab_handshakes_total', { outcome: 'auth_failed' })).toBe(1);
  });

  it('rejects an expired token', async () => {
    fixture = await startGateway([transport]);
    // Issued two hours ago for one minute, by an authority whose clock lags the gateway's.
    const past = new HmacTokenAuthority(TEST_SECRET, new VirtualClock(Date.now() - 2 * 3_600_000));
    const expired = past.issue({ userId: 'alice', deviceId: 'phone', ttlMs: 60_000 });
    const client = fixture.client(transport, { deviceId: 'phone', token: expired });
    await expect(client.connect()).rejects.toMatchObject({ closeCode: CloseCode.AUTH_FAILED });
  });

  it('delivers pushes and clears the inbox on ack', async () => {
    fixture = await startGateway([transport]);
    const client = fixture.client(transport, { deviceId: 'phone' });
    const received: ReceivedMessage[] = [];
    client.on('message', (m) => received.push(m));
    await client.connect();
    for (let i = 0; i < 50; i += 1) await fixture.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: text(`m${i}`) });
    await waitFor(() => received.length === 50, 10_000, '50 pushes');
    const inbox = fixture.gateway.devices.get('alice', 'phone')!.inbox;
    await waitFor(() => inbox.pendingCount === 0, 10_000, 'acks');
    expect(received.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(await metricValue('pushlab_pushes_acked_total')).toBe(50);
  });

  it('keeps publish order within a priority class', async () => {
    fixture = await startGateway([transport]);
    const client = fixture.client(transport, { deviceId: 'phone' });
    const received: ReceivedMessage[] = [];
    client.on('message', (m) => received.push(m));
    await client.connect();
    await Promise.all(Array.from({ length: 300 }, (_, i) => fixture!.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: text(`m${i}`) })));
    await waitFor(() => received.length === 300, 15_000, '300 pushes');
    expect(payloads(received)).toEqual(Array.from({ length: 300 }, (_, i) => `m${i}`));
  });

  it('lets high priority jump the send queue', async () => {
    fixture = await startGateway([transport], { sendWindow: 2 });
    const client = fixture.client(transport, { deviceId: 'phone' });
    const received: ReceivedMessage[] = [];
    client.on('message', (m) => received.push(m));
    await client.connect();
    const publishes = Array.from({ length: 20 }, (_, i) => fixture!.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: text(`normal-${i}`) }));
    publishes.push(fixture.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: text('payment'), priority: 'high' }));
    await Promise.all(publishes);
    await waitFor(() => received.length === 21, 10_000, '21 pushes');
    const order = payloads(received);
    expect(order[0]).toBe('payment');
    expect(received[0]!.high).toBe(true);
    expect(order.slice(1)).toEqual(Array.from({ length: 20 }, (_, i) => `normal-${i}`));
  });

  it('resumes with exactly the missing messages', async () => {
    fixture = await startGateway([transport]);
    const client = fixture.client(transport, { deviceId: 'phone' });
    const received: ReceivedMessage[] = [];
    client.on('message', (m) => received.push(m));
    await client.connect();
    for (let i = 0; i < 5; i += 1) await fixture.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: text(`a${i}`) });
    await waitFor(() => received.length === 5);
    const inbox = fixture.gateway.devices.get('alice', 'phone')!.inbox;
    await waitFor(() => inbox.pendingCount === 0, 5_000, 'acks before the drop');

    const welcomes: number[] = [];
    client.on('welcome', (w) => welcomes.push(w.resume?.status ?? 0));
    client.dropConnection();
    await waitFor(() => fixture!.gateway.sessionCount === 0, 10_000, 'gateway to notice the drop');
    for (let i = 0; i < 5; i += 1) await fixture.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: text(`b${i}`) });
    await waitFor(() => received.length === 10, 10_000, 'the missing messages');
    expect(welcomes).toEqual([ResumeStatus.RESUMED]);
    expect(payloads(received)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1', 'b2', 'b3', 'b4']);
    expect(client.stats.duplicatesReceived).toBe(0);
  });

  it('names the missing range when resume cannot fill it', async () => {
    fixture = await startGateway([transport], { inboxLimit: 3 });
    const client = fixture.client(transport, { deviceId: 'phone' });
    const received: ReceivedMessage[] = [];
    const gaps: { from: number; to: number }[] = [];
    client.on('message', (m) => received.push(m));
    client.on('gap', (g) => gaps.push(g));
    await client.connect();
    await fixture.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: text('first') });
    await waitFor(() => received.length === 1);
    await waitFor(() => fixture!.gateway.devices.get('alice', 'phone')!.inbox.pendingCount === 0);
    client.dropConnection();
    await waitFor(() => fixture!.gateway.sessionCount === 0);
    // Seqs 2..11 arrive while the device is away; the inbox keeps only the newest 3.
    for (let i = 2; i <= 11; i += 1) await fixture.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: text(`m${i}`) });
    await waitFor(() => received.length === 4, 10_000, 'the retained messages');
    expect(gaps).toEqual([{ from: 2, to: 8 }]);
    expect(payloads(received)).toEqual(['first', 'm9', 'm10', 'm11']);
    expect(client.lastSeq).toBe(11);
  });

  it('applies a client publish once and acks it', async () => {
    fixture = await startGateway([transport]);
    const sender = fixture.client(transport, { deviceId: 'phone' });
    const receiver = fixture.client(transport, { userId: 'bob', deviceId: 'tablet' });
    const received: ReceivedMessage[] = [];
    receiver.on('message', (m) => received.push(m));
    await Promise.all([sender.connect(), receiver.connect()]);
    const receipt = await sender.publish(text('hi bob'), { toUserId: 'bob' });
    expect(receipt.clientSeq).toBe(1);
    expect(receipt.duplicate).toBe(false);
    await waitFor(() => received.length === 1);
    expect(payloads(received)).toEqual(['hi bob']);
  });

  it('closes an oversized frame with FRAME_TOO_LARGE', async () => {
    fixture = await startGateway([transport], { maxFrameSize: 2048 });
    const raw = await RawSession.open(fixture, transport);
    raw.hello(fixture, { userId: 'alice', deviceId: 'raw' });
    await raw.waitForFrame('welcome');
    raw.send({ publish: { clientSeq: 1, payload: new Uint8Array(4096) } });
    expect(await raw.waitForClose()).toBe(CloseCode.FRAME_TOO_LARGE);
    expect(await metricValue('pushlab_protocol_errors_total', { kind: 'frame_too_large' })).toBe(1);
    // The gateway lives on and serves the next session.
    const client = fixture.client(transport, { deviceId: 'after' });
    await client.connect();
  });

  it('accepts a frame of exactly the maximum size', async () => {
    fixture = await startGateway([transport], { maxFrameSize: 2048 });
    const raw = await RawSession.open(fixture, transport);
    raw.hello(fixture, { userId: 'alice', deviceId: 'raw' });
    await raw.waitForFrame('welcome');
    // Pad a publish so its encoded frame is exactly 2048 bytes.
    let size = 2048 - 16;
    const frameOf = (n: number) => ({ publish: { clientSeq: 1, payload: new Uint8Array(n) } });
    const { encodeFrame } = await import('../../src/codec/frame-codec.js');
    while (encodeFrame(frameOf(size)).length < 2048) size += 1;
    while (encodeFrame(frameOf(size)).length > 2048) size -= 1;
    expect(encodeFrame(frameOf(size)).length).toBe(2048);
    raw.send(frameOf(size));
    const ack = await raw.waitForFrame('publishAck');
    expect(Number(ack.publishAck!.clientSeq)).toBe(1);
  });

  it('reports an oversized client publish instead of resending it', async () => {
    fixture = await startGateway([transport], { maxFrameSize: 2048 });
    const client = fixture.client(transport, { deviceId: 'phone', maxFrameSize: 64 * 1024 });
    await client.connect();
    await expect(client.publish(new Uint8Array(4096))).rejects.toBeInstanceOf(MessageTooLargeError);
    await waitFor(() => client.state.kind === 'connected', 10_000, 'reconnect');
    const receipt = await client.publish(text('small'));
    expect(receipt.clientSeq).toBeGreaterThan(0);
    expect(await metricValue('pushlab_protocol_errors_total', { kind: 'frame_too_large' })).toBe(1);
  });

  it('closes a malformed frame with PROTOCOL_ERROR', async () => {
    fixture = await startGateway([transport]);
    const bystander = fixture.client(transport, { deviceId: 'bystander' });
    await bystander.connect();
    const raw = await RawSession.open(fixture, transport);
    raw.hello(fixture, { userId: 'alice', deviceId: 'raw' });
    await raw.waitForFrame('welcome');
    raw.connection.send(Uint8Array.from([0x0a, 0xff, 0xff, 0x01]));
    expect(await raw.waitForClose()).toBe(CloseCode.PROTOCOL_ERROR);
    expect(await metricValue('pushlab_protocol_errors_total', { kind: 'malformed' })).toBe(1);
    expect(bystander.state.kind).toBe('connected');
    await fixture.gateway.publish({ userId: 'alice', deviceId: 'bystander', payload: text('still here') });
  });

  it('refuses a first frame that is not a hello', async () => {
    fixture = await startGateway([transport]);
    const raw = await RawSession.open(fixture, transport);
    raw.send({ ping: { nonce: 1 } });
    expect(await raw.waitForClose()).toBe(CloseCode.PROTOCOL_ERROR);
  });

  it('replaces the older session of the same device', async () => {
    fixture = await startGateway([transport]);
    const first = fixture.client(transport, { deviceId: 'phone' });
    const closed: number[] = [];
    first.on('closed', (e) => closed.push(e.closeCode));
    await first.connect();
    const second = fixture.client(transport, { deviceId: 'phone' });
    const welcome = await second.connect();
    expect(Number(welcome.epoch)).toBe(2);
    await waitFor(() => closed.length === 1, 10_000, 'the old session to close');
    expect(closed).toEqual([CloseCode.SESSION_REPLACED]);
    expect(fixture.gateway.sessionCount).toBe(1);
  });

  it('sends GOING_AWAY when the gateway shuts down', async () => {
    fixture = await startGateway([transport]);
    const client = fixture.client(transport, { deviceId: 'phone' });
    const warnings: number[] = [];
    client.on('warning', (e) => warnings.push(e.closeCode));
    await client.connect();
    await fixture.gateway.close();
    await waitFor(() => warnings.includes(CloseCode.GOING_AWAY), 10_000, 'GOING_AWAY');
  });

  it('detects a silently dropped link at both ends', async () => {
    const heartbeat = { intervalMs: 300, timeoutMs: 600 };
    fixture = await startGateway([transport], { heartbeat });
    const listener = fixture.gateway.listeners[0]!;
    const protocol = fixture.registry.create(transport).ipProtocol;
    emulator = await LinkEmulator.start({ protocol, targetHost: listener.address.host, targetPort: listener.address.port, profile: 'lan' });
    const client = fixture.client(transport, { deviceId: 'phone', via: emulator.address });
    const received: ReceivedMessage[] = [];
    client.on('message', (m) => received.push(m));
    await client.connect();

    emulator.blackhole('both');
    const droppedAt = Date.now();
    await fixture.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: text('during outage') });
    await waitFor(() => fixture!.gateway.sessionCount === 0 && client.stats.heartbeatTimeouts === 1, 5_000, 'both ends to detect the drop');
    // interval + timeout, plus timer and scheduling slack.
    expect(Date.now() - droppedAt).toBeLessThan(heartbeat.intervalMs + heartbeat.timeoutMs + 1_000);
    expect(await metricValue('pushlab_heartbeat_timeouts_total')).toBe(1);

    emulator.restore();
    await waitFor(() => received.length === 1, 15_000, 'delivery after the outage');
    expect(payloads(received)).toEqual(['during outage']);
  });
});

describe('conformance suite', () => {
  it('covers every registered transport', () => {
    expect(TRANSPORTS).toContain('tcp');
    expect(TRANSPORTS.length).toBeGreaterThanOrEqual(1);
  });

  it('rejects a declared stream length above the maximum before the body', async () => {
    fixture = await startGateway(['tcp'], { maxFrameSize: 1024 });
    const raw = await RawSession.open(fixture, 'tcp');
    // Reach under the transport's framing: a length prefix alone, declaring max + 1.
    const socketWrite = (raw.connection as unknown as { socket: { write(b: Uint8Array): void } }).socket;
    socketWrite.write(encodeVarint(1025));
    expect(await raw.waitForClose()).toBe(CloseCode.FRAME_TOO_LARGE);
  });
});

describe('resume position', () => {
  it('acknowledges messages the resume position covers', async () => {
    fixture = await startGateway(['tcp']);
    const raw = await RawSession.open(fixture, 'tcp');
    raw.hello(fixture, { userId: 'alice', deviceId: 'raw', attempt: 1 });
    const welcome = await raw.waitForFrame('welcome');
    for (let i = 0; i < 3; i += 1) await fixture.gateway.publish({ userId: 'alice', deviceId: 'raw', payload: text(`m${i}`) });
    await waitFor(() => raw.frames.filter((f) => f.body === 'push').length === 3);
    // The device got all three but its ack never reached the gateway.
    raw.destroy();
    const inbox = fixture.gateway.devices.get('alice', 'raw')!.inbox;
    await waitFor(() => fixture!.gateway.sessionCount === 0);
    expect(inbox.pendingCount).toBe(3);

    const resumed = await RawSession.open(fixture, 'tcp');
    resumed.hello(fixture, { userId: 'alice', deviceId: 'raw', attempt: 2, resumeSessionId: welcome.welcome!.sessionId!, lastSeq: 3 });
    const second = await resumed.waitForFrame('welcome');
    expect(second.welcome!.resume?.status).toBe(ResumeStatus.RESUMED);
    expect(second.welcome!.resume?.replayCount ?? 0).toBe(0);
    expect(inbox.pendingCount).toBe(0);
    resumed.destroy();
  });
});
