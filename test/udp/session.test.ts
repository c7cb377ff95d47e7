// The UDP transport under the real gateway and client: a push session end to end, also through
// a lossy relay.
import { afterEach, describe, expect, it } from 'vitest';
import { builtinTransports } from '../../transports/index.js';
import { UdpTransport } from '../../transports/udp/index.js';
import { startGateway, waitFor, type GatewayFixture } from '../helpers/gateway-fixture.js';
import { LossyRelay } from './lossy-relay.js';

let fixture: GatewayFixture | null = null;
let relay: LossyRelay | null = null;

afterEach(async () => {
  await fixture?.close();
  fixture = null;
  await relay?.close();
  relay = null;
});

function registryWithUdp() {
  const registry = builtinTransports();
  if (!registry.has('udp')) registry.register('udp', () => new UdpTransport('udp'));
  return registry;
}

describe('udp push session', () => {
  it('delivers publishes over udp', async () => {
    fixture = await startGateway(['udp'], { registry: registryWithUdp() });
    const client = fixture.client('udp', { deviceId: 'phone' });
    const received: string[] = [];
    client.on('message', (message) => received.push(Buffer.from(message.payload).toString()));
    await client.connect();
    for (let i = 0; i < 20; i++) {
      await fixture.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: Buffer.from(`push-${i}`) });
    }
    await waitFor(() => received.length === 20, 10_000, 'twenty pushes');
    expect(received).toEqual(Array.from({ length: 20 }, (_, i) => `push-${i}`));
    await waitFor(() => fixture!.gateway.devices.get('alice', 'phone')!.inbox.pendingCount === 0, 5_000, 'acks');
  });

  it('delivers publishes through 30% loss', async () => {
    fixture = await startGateway(['udp'], { registry: registryWithUdp() });
    const listener = fixture.gateway.listeners.find((entry) => entry.transport === 'udp')!;
    relay = await LossyRelay.start({ server: listener.address, seed: 21, lossToServer: 0.3, lossToClient: 0.3 });
    const client = fixture.client('udp', { deviceId: 'lossy', via: { host: '127.0.0.1', port: relay.port } });
    const received: string[] = [];
    client.on('message', (message) => received.push(Buffer.from(message.payload).toString()));
    await client.connect();
    for (let i = 0; i < 50; i++) {
      await fixture.gateway.publish({ userId: 'alice', deviceId: 'lossy', payload: Buffer.from(`lossy-${i}`) });
    }
    await waitFor(() => received.length >= 50, 20_000, 'fifty pushes');
    expect(received).toEqual(Array.from({ length: 50 }, (_, i) => `lossy-${i}`));
  });
});
