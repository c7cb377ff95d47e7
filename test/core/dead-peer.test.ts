// A link that goes silent (no FIN, no RST) is detected by both ends within interval + timeout,
// and messages published meanwhile wait in the inbox. Runs on a virtual clock with real sockets:
// the test moves time in small steps and lets real I/O flow between them.
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock.js';
import { LinkEmulator } from '../../src/emulator/emulator.js';
import type { ReceivedMessage } from '../../src/client/client.js';
import { startGateway, type GatewayFixture } from '../helpers/gateway-fixture.js';

const STEP_MS = 250;
const realPause = (ms = 15): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Advances virtual time by `totalMs` in steps, letting sockets work between steps; stops early when `until` holds. */
async function advance(clock: VirtualClock, totalMs: number, until: () => boolean = () => false): Promise<void> {
  for (let elapsed = 0; elapsed < totalMs && !until(); elapsed += STEP_MS) {
    clock.advance(STEP_MS);
    await realPause();
  }
}

let fixture: GatewayFixture | null = null;
let emulator: LinkEmulator | null = null;
afterEach(async () => {
  await emulator?.close();
  await fixture?.close();
  emulator = null;
  fixture = null;
});

describe('dead peer detection', () => {
  it('both ends notice a silent drop within 21 s', async () => {
    const clock = new VirtualClock(Date.now());
    fixture = await startGateway(['tcp'], { clock, heartbeat: { intervalMs: 5_000, timeoutMs: 15_000 }, handshakeTimeoutMs: 60_000 });
    const listener = fixture.gateway.listeners[0]!;
    emulator = await LinkEmulator.start({ protocol: 'tcp', targetHost: listener.address.host, targetPort: listener.address.port, profile: 'lan' });
    const client = fixture.client('tcp', { deviceId: 'phone', via: emulator.address, clock, connectTimeoutMs: 10_000, backoff: { initialMs: 500, maxMs: 2_000 } });
    const received: ReceivedMessage[] = [];
    client.on('message', (m) => received.push(m));
    const connected = client.connect();
    await advance(clock, 2_000, () => client.state.kind === 'connected');
    await connected;

    // A minute of healthy idle time: pings every 5 s keep both watchdogs fed.
    await advance(clock, 60_000);
    expect(client.state.kind).toBe('connected');
    expect(fixture.gateway.sessionCount).toBe(1);

    emulator.blackhole('both');
    const droppedAt = clock.now();
    let gatewayDetectedAt = 0;
    let clientDetectedAt = 0;
    for (let i = 0; i < 3; i += 1) await fixture.gateway.publish({ userId: 'alice', deviceId: 'phone', payload: Buffer.from(`outage-${i}`) });
    await advance(clock, 30_000, () => {
      if (!gatewayDetectedAt && fixture!.gateway.sessionCount === 0) gatewayDetectedAt = clock.now();
      if (!clientDetectedAt && client.stats.heartbeatTimeouts > 0) clientDetectedAt = clock.now();
      return gatewayDetectedAt > 0 && clientDetectedAt > 0;
    });
    // Detection is heartbeat-driven: the last frame arrived at most one interval before the drop.
    expect(gatewayDetectedAt - droppedAt).toBeGreaterThanOrEqual(14_000);
    expect(clientDetectedAt - droppedAt).toBeGreaterThanOrEqual(14_000);
    expect(gatewayDetectedAt - droppedAt).toBeLessThanOrEqual(21_000);
    expect(clientDetectedAt - droppedAt).toBeLessThanOrEqual(21_000);
    expect(received).toHaveLength(0);
    expect(fixture.gateway.devices.get('alice', 'phone')!.inbox.pendingCount).toBe(3);

    emulator.restore();
    await advance(clock, 60_000, () => received.length === 3);
    expect(received.map((m) => Buffer.from(m.payload).toString())).toEqual(['outage-0', 'outage-1', 'outage-2']);
    expect(client.stats.duplicatesReceived).toBe(0);
    await advance(clock, 2_000, () => fixture!.gateway.devices.get('alice', 'phone')!.inbox.pendingCount === 0);
    expect(fixture.gateway.devices.get('alice', 'phone')!.inbox.pendingCount).toBe(0);
  });
});
