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
