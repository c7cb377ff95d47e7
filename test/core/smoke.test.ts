import { afterEach, describe, expect, it } from 'vitest';
import { startGateway, waitFor, type GatewayFixture } from '../helpers/gateway-fixture.js';

let fixture: GatewayFixture | null = null;
afterEach(async () => {
  await fixture?.close();
  fixture = null;
});

describe('gateway over tcp', () => {
  it('delivers a publish and receives the ack', async () => {
    fixture = await startGateway(['tcp']);
    const client = fixture.client('tcp', { deviceId: 'phone' });
    const received: string[] = [];
    client.on('message', (m) => received.push(Buffer.from(m.payload).toString()));
    await client.connect();
    const result = await fixture.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: Buffer.from('hello') });
    expect(result.deliveries).toEqual([{ deviceId: 'phone', seq: 1, status: 'sent' }]);
    await waitFor(() => received.length === 1);
    expect(received).toEqual(['hello']);
    await waitFor(() => fixture!.gateway.devices.get('alice', 'phone')!.inbox.pendingCount === 0, 5_000, 'ack');
  });
});

describe('replay marking', () => {
  it('does not mark first sends as replays', async () => {
    fixture = await startGateway(['tcp']);
    await fixture.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: Buffer.from('queued') });
    const client = fixture.client('tcp', { deviceId: 'phone' });
    const replays: boolean[] = [];
    client.on('message', (m) => replays.push(m.replay));
    await client.connect();
    await waitFor(() => replays.length === 1);
    expect(replays).toEqual([false]);
    const retransmissions = await fixture.gateway.metrics.retransmissions.get();
    expect(retransmissions.values.reduce((sum, v) => sum + v.value, 0)).toBe(0);
  });

  it('marks a resent push as a replay', async () => {
    fixture = await startGateway(['tcp']);
    const { RawSession } = await import('../helpers/raw-session.js');
    const raw = await RawSession.open(fixture, 'tcp');
    raw.hello(fixture, { userId: 'alice', deviceId: 'phone', attempt: 1 });
    const welcome = await raw.waitForFrame('welcome');
    await fixture.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: Buffer.from('unacked') });
    await raw.waitForFrame('push');
    raw.destroy();
    await waitFor(() => fixture!.gateway.sessionCount === 0);

    const again = await RawSession.open(fixture, 'tcp');
    again.hello(fixture, { userId: 'alice', deviceId: 'phone', attempt: 2, resumeSessionId: welcome.welcome!.sessionId!, lastSeq: 0 });
    const push = await again.waitForFrame('push');
    expect(push.push!.replay).toBe(true);
    again.destroy();
  });
});
