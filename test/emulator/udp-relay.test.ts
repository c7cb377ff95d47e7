import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock, type Clock } from '../../src/clock.js';
import { LinkEmulator } from '../../src/emulator/emulator.js';
import { traceProfile, type LinkProfile } from '../../src/emulator/profiles.js';
import { sleep, testProfile, udpPeer, waitFor, type UdpPeer } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(profile: LinkProfile | string, options: { seed?: number; flowGcIdleMs?: number; clock?: Clock } = {}) {
  const target = await udpPeer(true);
  const client = await udpPeer();
  const emulator = await LinkEmulator.start({
    protocol: 'udp',
    targetHost: '127.0.0.1',
    targetPort: target.port,
    profile,
    seed: options.seed ?? 7,
    ...(options.flowGcIdleMs === undefined ? {} : { flowGcIdleMs: options.flowGcIdleMs }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  cleanups.push(() => target.close(), () => client.close(), () => emulator.close());
  return { target, client, emulator, relayPort: emulator.address.port };
}

/** Sends numbered datagrams in small batches so no loopback socket buffer overflows. */
async function sendNumbered(client: UdpPeer, port: number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const payload = Buffer.alloc(64);
    payload.writeUInt32BE(i, 0);
    client.send(payload, port);
    if (i % 20 === 19) await sleep(1);
  }
}

async function lossRun(seed: number): Promise<number[]> {
  const profile = testProfile({ up: { delayMs: 0, jitterMs: 0, lossRate: 0.3 } });
  const { target, client, emulator, relayPort } = await setup(profile, { seed });
  await sendNumbered(client, relayPort, 1000);
  await waitFor('all datagrams judged', () => {
    const up = emulator.stats().up;
    return up.forwardedUnits + up.dropped.loss === 1000 && target.received.length === up.forwardedUnits;
  });
  return target.received.map((datagram) => datagram.payload.readUInt32BE(0));
}

describe('udp relay', () => {
  it('loss is exact for a seed', async () => {
    const first = await lossRun(11);
    expect(first.length).toBeGreaterThan(650);
    expect(first.length).toBeLessThan(750);

    const second = await lossRun(11);
    expect(second).toEqual(first);

    const otherSeed = await lossRun(12);
    expect(otherSeed).not.toEqual(first);
  });

  it('delay applies per direction', async () => {
    const profile = testProfile({ up: { delayMs: 40, jitterMs: 0, lossRate: 0 }, down: { delayMs: 30, jitterMs: 0, lossRate: 0 } });
    const { client, relayPort } = await setup(profile);
    const sentAt = performance.now();
    client.send('ping', relayPort);
    await waitFor('echo', () => client.received.length === 1);
    expect((client.received[0]?.atMs ?? 0) - sentAt).toBeGreaterThanOrEqual(69);
  });

  it('jitter may reorder datagrams', async () => {
    const profile = testProfile({ up: { delayMs: 30, jitterMs: 25, lossRate: 0, reorder: true } });
    const { target, client, relayPort } = await setup(profile);
    await sendNumbered(client, relayPort, 100);
    await waitFor('all datagrams', () => target.received.length === 100);
    const order = target.received.map((datagram) => datagram.payload.readUInt32BE(0));
    expect([...order].sort((a, b) => a - b)).toEqual([...Array(100).keys()]);
    expect(order).not.toEqual([...Array(100).keys()]);
  });

  it('queue limit drops datagrams beyond it', async () => {
    // 800 kbit/s = 100 bytes/ms; 50 datagrams of 1000 bytes arrive far faster than that.
    const profile = testProfile({ up: { delayMs: 0, jitterMs: 0, lossRate: 0, bandwidthKbps: 800, queueLimitBytes: 5000 } });
    const { emulator, client, relayPort } = await setup(profile);
    for (let i = 0; i < 50; i++) client.send(Buffer.alloc(1000), relayPort);
    await waitFor('all datagrams judged', () => {
      const up = emulator.stats().up;
      return up.forwardedUnits + up.dropped.queue === 50;
    });
    const up = emulator.stats().up;
    expect(up.dropped.queue).toBeGreaterThan(30);
    expect(up.maxQueueBytes).toBeLessThanOrEqual(5000);
  });

  it('trace capacity paces datagrams on a virtual clock', async () => {
    // One 1500-byte opportunity per ms, at 1..100 ms after the relay starts: 12 Mbit/s.
    const dir = mkdtempSync(join(tmpdir(), 'pushlab-trace-'));
    const path = join(dir, 'one-per-ms');
    writeFileSync(path, `${Array.from({ length: 100 }, (_, i) => i + 1).join('\n')}\n`);
    const clock = new VirtualClock(0);
    const { target, client, emulator, relayPort } = await setup(traceProfile({ upTraceFile: path, downTraceFile: path }), { clock });

    for (let i = 0; i < 20; i++) client.send(Buffer.alloc(1500), relayPort);
    await waitFor('all datagrams queued', () => emulator.stats().up.offeredUnits === 20);
    expect(emulator.stats().up.maxQueueBytes).toBe(20 * 1500);
    // The relay releases what is due within 1 ms, so only the datagram of the 1 ms opportunity is out.
    await sleep(20);
    expect(target.received.length).toBe(1);

    // Opportunities at 1..11 ms carry eleven datagrams.
    clock.advance(10);
    await waitFor('first datagrams', () => target.received.length === 11);
    await sleep(20);
    expect(target.received.length).toBe(11);

    clock.advance(10);
    await waitFor('all datagrams', () => target.received.length === 20);
  });

  it('setProfile applies at once', async () => {
    const { client, emulator, relayPort } = await setup('lan');
    emulator.setProfile(testProfile({ name: 'slow', up: { delayMs: 60, jitterMs: 0, lossRate: 0 } }));
    expect(emulator.stats().profile).toBe('slow');
    const sentAt = performance.now();
    client.send('x', relayPort);
    await waitFor('echo', () => client.received.length === 1);
    expect((client.received[0]?.atMs ?? 0) - sentAt).toBeGreaterThanOrEqual(59);
  });

  it('rebind changes the source port seen by the target', async () => {
    const { target, client, emulator, relayPort } = await setup('lan');
    client.send('before', relayPort);
    await waitFor('first echo', () => client.received.length === 1);
    const oldPort = target.received[0]?.port as number;

    emulator.rebind();
    client.send('after', relayPort);
    await waitFor('second echo', () => client.received.length === 2);
    const newPort = target.received[1]?.port as number;
    expect(newPort).not.toBe(oldPort);
    expect(client.received[1]?.payload.toString()).toBe('after');

    // The old mapping is gone: what the target sends there never reaches the client.
    target.send('stale', oldPort);
    await waitFor('stale datagram dropped', () => emulator.stats().down.dropped.nat === 1);
    await sleep(30);
    expect(client.received.length).toBe(2);
  });

  it('nat idle timeout expires the mapping', async () => {
    const { target, client, emulator, relayPort } = await setup(testProfile({ natIdleTimeoutMs: 150 }));
    client.send('one', relayPort);
    await waitFor('first echo', () => client.received.length === 1);
    const firstPort = target.received[0]?.port as number;

    await sleep(250);
    target.send('late', firstPort);
    await waitFor('late datagram dropped', () => emulator.stats().down.dropped.nat === 1);
    expect(client.received.length).toBe(1);

    client.send('two', relayPort);
    await waitFor('second echo', () => client.received.length === 2);
    expect(target.received[1]?.port).not.toBe(firstPort);
  });

  it('blackhole drops one direction until restore', async () => {
    const { target, client, emulator, relayPort } = await setup('lan');
    emulator.blackhole('down');
    client.send('a', relayPort);
    await waitFor('datagram at target', () => target.received.length === 1);
    await waitFor('echo dropped', () => emulator.stats().down.dropped.blackhole === 1);
    expect(emulator.stats().blackhole).toEqual({ up: false, down: true });

    emulator.restore();
    client.send('b', relayPort);
    await waitFor('echo after restore', () => client.received.length === 1);
    expect(client.received[0]?.payload.toString()).toBe('b');
  });

  it('blackholeFor restores by itself', async () => {
    const { client, emulator, relayPort } = await setup('lan');
    emulator.blackholeFor(100, 'up');
    client.send('lost', relayPort);
    await waitFor('datagram dropped', () => emulator.stats().up.dropped.blackhole === 1);
    await waitFor('restore', () => !emulator.stats().blackhole.up, 1_000);
    client.send('kept', relayPort);
    await waitFor('echo', () => client.received.length === 1);
  });

  it('idle flows are garbage-collected', async () => {
    const { client, emulator, relayPort } = await setup('lan', { flowGcIdleMs: 100 });
    client.send('x', relayPort);
    await waitFor('echo', () => client.received.length === 1);
    expect(emulator.stats().activeFlows).toBe(1);
    await waitFor('flow collected', () => emulator.stats().activeFlows === 0, 2_000);

    client.send('y', relayPort);
    await waitFor('echo after collection', () => client.received.length === 2);
    expect(emulator.stats().activeFlows).toBe(1);
  });

  it('stats report the relay backend', async () => {
    const { emulator } = await setup('4g');
    const stats = emulator.stats();
    expect(stats.backend).toBe('relay');
    expect(stats.protocol).toBe('udp');
    expect(stats.profile).toBe('4g');
    expect(stats.up.unit).toBe('datagram');
    expect(emulator.describe()).toMatch(/UDP loss drops whole datagrams/);
  });
});
