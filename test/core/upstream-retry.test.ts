// Client publishes retried over a paused link are applied once each, in order.
import { afterEach, describe, expect, it } from 'vitest';
import { LinkEmulator } from '../../src/emulator/emulator.js';
import type { UpstreamEvent } from '../../src/gateway/upstream.js';
import { startGateway, waitFor, type GatewayFixture } from '../helpers/gateway-fixture.js';

let fixture: GatewayFixture | null = null;
let emulator: LinkEmulator | null = null;
afterEach(async () => {
  await emulator?.close();
  await fixture?.close();
  emulator = null;
  fixture = null;
});

describe('upstream publish retries', () => {
  it('applies A then B once across a 5 s pause', async () => {
    const applied: string[] = [];
    fixture = await startGateway(['tcp'], {
      onUpstream: (event: UpstreamEvent) => {
        applied.push(Buffer.from(event.payload).toString());
        return { messageId: `up-${event.clientSeq}` };
      },
    });
    const listener = fixture.gateway.listeners[0]!;
    emulator = await LinkEmulator.start({ protocol: 'tcp', targetHost: listener.address.host, targetPort: listener.address.port, profile: 'lan' });
    const client = fixture.client('tcp', { deviceId: 'phone', via: emulator.address, publishRetryMs: 1_000 });
    await client.connect();

    emulator.blackhole('both');
    const a = client.publish(Buffer.from('A'));
    const b = client.publish(Buffer.from('B'));
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    expect(applied).toEqual([]);
    emulator.restore();

    const [receiptA, receiptB] = await Promise.all([a, b]);
    expect(receiptA).toMatchObject({ clientSeq: 1, messageId: 'up-1', duplicate: false });
    expect(receiptB).toMatchObject({ clientSeq: 2, messageId: 'up-2', duplicate: false });
    expect(client.publishRetries).toBeGreaterThanOrEqual(8);

    const duplicates = async (): Promise<number> => (await fixture!.gateway.metrics.upstreamDuplicates.get()).values.reduce((sum, v) => sum + v.value, 0);
    let counted = 0;
    await waitFor(() => {
      void duplicates().then((value) => (counted = value));
      return counted === client.publishRetries;
    }, 5_000, 'every retry to be counted as a duplicate');
    expect(applied).toEqual(['A', 'B']);
    expect(client.state.kind).toBe('connected');
  });
});
