import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isPacketBackendAvailable, PacketLinkEmulator, type PacketDirectionStats } from '../../src/emulator/packet/index.js';
import { quantile, startPeer, symmetricProfile } from './helpers.js';

const emulators: PacketLinkEmulator[] = [];

beforeAll(async () => {
  const availability = await isPacketBackendAvailable();
  // This suite runs as root in CI; an unavailable backend is a failure, never a skip.
  if (!availability.available) throw new Error(`packet emulator backend unavailable: ${availability.reason}`);
});

afterEach(async () => {
  await Promise.all(emulators.splice(0).map((emulator) => emulator.close()));
});

async function start(...args: Parameters<typeof symmetricProfile>): Promise<PacketLinkEmulator> {
  const emulator = await PacketLinkEmulator.start({ profile: symmetricProfile(...args), seed: 3 });
  emulators.push(emulator);
  return emulator;
}

function expectBalanced(stats: PacketDirectionStats): void {
  const dropped = Object.values(stats.dropped).reduce((sum, count) => sum + count, 0);
  expect(stats.offeredUnits).toBe(stats.forwardedUnits + dropped + stats.inFlightUnits);
}

describe('packet link emulator', () => {
  it('udp round trip matches the configured delay', async () => {
    const emulator = await start(25, 0);
    const [server, client] = await Promise.all([startPeer(emulator, 'gateway'), startPeer(emulator, 'client')]);
    const ports = await server.request('listen', { host: emulator.gatewayAddress });

    const result = await client.request('udp-rr', { host: emulator.gatewayAddress, port: ports.udpPort, count: 20, size: 64, retryMs: 2_000 });
    const latencies = result.latenciesMs as number[];

    // 25 ms each way; a packet may leave up to 1 ms early (delivery batching) and some ms late (timers).
    expect(Math.min(...latencies)).toBeGreaterThanOrEqual(48);
    expect(quantile(latencies, 0.5)).toBeLessThan(60);
    expect(result.retries).toBe(0);
    const stats = emulator.stats();
    expect(stats.backend).toBe('packet');
    expect(stats.up.forwardedByProtocol.udp).toBe(20);
    expect(stats.down.forwardedByProtocol.udp).toBe(20);
    expect(stats.up.dropped.unsupported).toBe(0);
    expectBalanced(stats.up);
    expectBalanced(stats.down);
  });

  it('tcp round trip matches the configured delay', async () => {
    const emulator = await start(25, 0);
    const [server, client] = await Promise.all([startPeer(emulator, 'gateway'), startPeer(emulator, 'client')]);
    const ports = await server.request('listen', { host: emulator.gatewayAddress });

    const result = await client.request('tcp-rr', { host: emulator.gatewayAddress, port: ports.tcpPort, count: 10, size: 200 });
    const latencies = result.latenciesMs as number[];

    expect(Math.min(...latencies)).toBeGreaterThanOrEqual(48);
    expect(quantile(latencies, 0.5)).toBeLessThan(60);
    const stats = emulator.stats();
    // Handshake, ten requests and their ACKs at least.
    expect(stats.up.forwardedByProtocol.tcp).toBeGreaterThanOrEqual(12);
    expect(stats.down.forwardedByProtocol.tcp).toBeGreaterThanOrEqual(11);
  });

  it('setProfile changes the delay at once', async () => {
    const emulator = await start(5, 0);
    const [server, client] = await Promise.all([startPeer(emulator, 'gateway'), startPeer(emulator, 'client')]);
    const ports = await server.request('listen', { host: emulator.gatewayAddress });
    const rr = async (): Promise<number[]> =>
      (await client.request('udp-rr', { host: emulator.gatewayAddress, port: ports.udpPort, count: 5, size: 64, retryMs: 2_000 })).latenciesMs as number[];

    expect(quantile(await rr(), 0.5)).toBeLessThan(20);
    emulator.setProfile(symmetricProfile(40, 0));
    expect(Math.min(...(await rr()))).toBeGreaterThanOrEqual(78);
    expect(emulator.profile.up.delayMs).toBe(40);
  });

  it('blackhole drops packets until it ends', async () => {
    const emulator = await start(5, 0);
    const [server, client] = await Promise.all([startPeer(emulator, 'gateway'), startPeer(emulator, 'client')]);
    const ports = await server.request('listen', { host: emulator.gatewayAddress });

    emulator.blackholeFor(300, 'up');
    expect(emulator.stats().blackhole).toEqual({ up: true, down: false });
    const result = await client.request('udp-rr', { host: emulator.gatewayAddress, port: ports.udpPort, count: 1, size: 64, retryMs: 50 });

    expect((result.latenciesMs as number[])[0]).toBeGreaterThanOrEqual(290);
    expect(result.retries as number).toBeGreaterThanOrEqual(4);
    const stats = emulator.stats();
    expect(stats.blackhole).toEqual({ up: false, down: false });
    expect(stats.up.dropped.blackhole).toBeGreaterThanOrEqual(5);
    expect(stats.up.droppedByProtocol.udp).toBe(stats.up.dropped.blackhole);
  });

  it('nat timeout drops inbound and remaps the port', async () => {
    const emulator = await start(5, 0, { natIdleTimeoutMs: 300 });
    const [server, client] = await Promise.all([startPeer(emulator, 'gateway'), startPeer(emulator, 'client')]);
    const ports = await server.request('listen', { host: emulator.gatewayAddress });
    const opened = await client.request('udp-open', { host: emulator.gatewayAddress, port: ports.udpPort });

    await client.request('udp-send', { payload: 'first' });
    await client.waitForEvent('echo of first', (event) => event.payload === 'first');
    const firstSource = await server.waitForEvent('first source port', (event) => event.event === 'udp-source');
    // The first mapping keeps the client's own port.
    expect(firstSource.port).toBe(opened.localPort);

    await sleep(450);
    await server.request('udp-push', { payload: 'late push' });
    await sleep(100);
    expect(client.events.some((event) => event.payload === 'late push')).toBe(false);
    expect(emulator.stats().down.dropped.nat).toBe(1);

    await client.request('udp-send', { payload: 'second' });
    await client.waitForEvent('echo of second', (event) => event.payload === 'second');
    const secondSource = await server.waitForEvent('second source port', (event) => event.event === 'udp-source' && event.port !== firstSource.port);
    expect(secondSource.port).not.toBe(opened.localPort);
    expect(emulator.stats().nat.retiredMappings).toBe(1);
  });

  it('rebind moves udp flows to new ports', async () => {
    const emulator = await start(5, 0);
    const [server, client] = await Promise.all([startPeer(emulator, 'gateway'), startPeer(emulator, 'client')]);
    const ports = await server.request('listen', { host: emulator.gatewayAddress });
    await client.request('udp-open', { host: emulator.gatewayAddress, port: ports.udpPort });
    await client.request('udp-send', { payload: 'before' });
    await client.waitForEvent('echo of before', (event) => event.payload === 'before');

    emulator.rebind();
    await server.request('udp-push', { payload: 'to old port' });
    await client.request('udp-send', { payload: 'after' });
    await client.waitForEvent('echo of after', (event) => event.payload === 'after');

    const sources = server.events.filter((event) => event.event === 'udp-source');
    expect(sources).toHaveLength(2);
    expect(client.events.some((event) => event.payload === 'to old port')).toBe(false);
    expect(emulator.stats().down.dropped.nat).toBe(1);
  });

  it('rejects addresses outside the benchmarking range', async () => {
    await expect(PacketLinkEmulator.start({ profile: 'lan', clientAddress: '10.0.0.1' })).rejects.toMatchObject({
      name: 'PacketEmulatorError',
      kind: 'setup-failed',
      message: expect.stringContaining('198.18.0.0/15'),
    });
  });
});
