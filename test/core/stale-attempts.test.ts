// Connection attempts that open late, after a newer attempt already owns the session, must be
// closed on arrival and must never cause a second delivery.
import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode } from '../../src/codec/proto.js';
import type { ReceivedMessage } from '../../src/client/client.js';
import type { DialOptions, Transport, TransportConnection } from '../../src/transport/types.js';
import { startGateway, waitFor, type GatewayFixture } from '../helpers/gateway-fixture.js';
import { RawSession } from '../helpers/raw-session.js';

/** Wraps a real transport and holds back the dials of chosen attempts, ignoring their abort. */
class HeldBackTransport implements Transport {
  readonly name: string;
  readonly kind;
  readonly ipProtocol;
  readonly secure;
  private dials = 0;
  readonly lateConnections: TransportConnection[] = [];

  constructor(
    private readonly inner: Transport,
    private readonly heldAttempts: Set<number>,
    private readonly holdMs: number,
  ) {
    this.name = inner.name;
    this.kind = inner.kind;
    this.ipProtocol = inner.ipProtocol;
    this.secure = inner.secure;
  }

  listen(): never {
    throw new Error('HeldBackTransport only dials');
  }

  async dial(options: DialOptions): Promise<TransportConnection> {
    const attempt = ++this.dials;
    if (!this.heldAttempts.has(attempt)) return this.inner.dial(options);
    // The network delays this attempt, so it opens only after the client has given up on it.
    const connection = await this.inner.dial({ ...options, signal: undefined });
    await new Promise((resolve) => setTimeout(resolve, this.holdMs));
    this.lateConnections.push(connection);
    return connection;
  }
}

let fixture: GatewayFixture | null = null;
afterEach(async () => {
  await fixture?.close();
  fixture = null;
});

describe('stale connection attempts', () => {
  it('client closes attempts that open late', async () => {
    fixture = await startGateway(['tcp']);
    const held = new HeldBackTransport(fixture.registry.create('tcp'), new Set([1, 2]), 1_500);
    const client = fixture.client('tcp', { deviceId: 'phone', transport: held, connectTimeoutMs: 300 });
    const received: ReceivedMessage[] = [];
    client.on('message', (m) => received.push(m));
    const welcome = await client.connect();
    expect(client.state).toMatchObject({ kind: 'connected', attempt: 3 });

    await waitFor(() => held.lateConnections.length === 2, 5_000, 'the held attempts to open');
    await waitFor(() => held.lateConnections.every((c) => c.closed), 5_000, 'late connections to close');
    expect(client.stats.staleAttemptsClosed).toBe(2);
    expect(fixture.gateway.sessionCount).toBe(1);
    expect(Number(welcome.epoch)).toBe(1);

    for (let i = 0; i < 10; i += 1) await fixture.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: Buffer.from(`m${i}`) });
    await waitFor(() => received.length === 10);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(received.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(client.stats.duplicatesReceived).toBe(0);
    expect(client.stats.connects).toBe(1);
  });

  it('gateway closes a late hello from an older attempt', async () => {
    fixture = await startGateway(['tcp']);
    const client = fixture.client('tcp', { deviceId: 'phone' });
    const received: ReceivedMessage[] = [];
    client.on('message', (m) => received.push(m));
    await client.connect();
    const attempt = client.state.kind === 'connected' ? client.state.attempt : 0;

    // The hello of an attempt the client abandoned earlier arrives only now.
    const late = await RawSession.open(fixture, 'tcp');
    late.hello(fixture, { userId: 'alice', deviceId: 'phone', clientInstance: client.instanceId, attempt: attempt - 1 });
    expect(await late.waitForClose()).toBe(CloseCode.STALE_ATTEMPT);
    expect(late.frames.some((f) => f.body === 'welcome' || f.body === 'push')).toBe(false);

    expect(client.state.kind).toBe('connected');
    expect(fixture.gateway.devices.get('alice', 'phone')!.epoch).toBe(1);
    await fixture.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: Buffer.from('once') });
    await waitFor(() => received.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(received).toHaveLength(1);
    expect(client.stats.duplicatesReceived).toBe(0);
  });
});
