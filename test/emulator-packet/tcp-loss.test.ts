// Kernel TCP against a UDP request/response with its own fast retry, both through the packet
// emulator at 5% loss each way. TCP recovers lost segments with tail loss probes and
// retransmission timeouts, which Linux does not send before about 200 ms. Its latency tail
// therefore stretches far beyond the base RTT, while the UDP client resends after 3 × RTT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPacketBackendAvailable, PacketLinkEmulator } from '../../src/emulator/packet/index.js';
import { quantile, startPeer, symmetricProfile } from './helpers.js';

const ONE_WAY_DELAY_MS = 10;
const BASE_RTT_MS = 2 * ONE_WAY_DELAY_MS;
const REQUESTS = 300;
const UDP_RETRY_MS = 3 * BASE_RTT_MS;

let emulator: PacketLinkEmulator;

beforeAll(async () => {
  const availability = await isPacketBackendAvailable();
  if (!availability.available) throw new Error(`packet emulator backend unavailable: ${availability.reason}`);
  emulator = await PacketLinkEmulator.start({ profile: symmetricProfile(ONE_WAY_DELAY_MS, 0.05), seed: 5 });
});

afterAll(async () => {
  await emulator?.close();
});

type Counters = { tcp: Record<string, number>; tcpExt: Record<string, number> };

describe('tcp under packet loss', () => {
  it('kernel tcp tail is far longer than udp with fast retry', async () => {
    const [server, client] = await Promise.all([startPeer(emulator, 'gateway'), startPeer(emulator, 'client')]);
    const ports = await server.request('listen', { host: emulator.gatewayAddress });
    const before = (await client.request('counters')) as unknown as Counters;

    // Both loops run at once on the same link; each is sequential, one small request at a time.
    const [tcp, udp] = await Promise.all([
      client.request('tcp-rr', { host: emulator.gatewayAddress, port: ports.tcpPort, count: REQUESTS, size: 100 }, 50_000),
      client.request('udp-rr', { host: emulator.gatewayAddress, port: ports.udpPort, count: REQUESTS, size: 100, retryMs: UDP_RETRY_MS }, 50_000),
    ]);
    const after = (await client.request('counters')) as unknown as Counters;
    const tcpLatencies = tcp.latenciesMs as number[];
    const udpLatencies = udp.latenciesMs as number[];

    // The kernel of the client namespace retransmitted: the loss reached real TCP segments.
    expect(after.tcp.RetransSegs! - before.tcp.RetransSegs!).toBeGreaterThan(0);
    const stats = emulator.stats();
    expect(stats.up.dropped.loss).toBeGreaterThan(0);
    expect(stats.down.dropped.loss).toBeGreaterThan(0);
    expect(stats.up.droppedByProtocol.tcp).toBeGreaterThan(0);

    // Medians stay at the base RTT for both.
    expect(quantile(tcpLatencies, 0.5)).toBeLessThan(BASE_RTT_MS + 15);
    expect(quantile(udpLatencies, 0.5)).toBeLessThan(BASE_RTT_MS + 15);

    // About one request in ten loses a packet. TCP waits at least about 200 ms for each, UDP
    // needs three losses in a row (about 0.1% of requests) to wait that long.
    const slowTcp = tcpLatencies.filter((latency) => latency > 200).length;
    const slowUdp = udpLatencies.filter((latency) => latency > 200).length;
    expect(slowTcp).toBeGreaterThanOrEqual(10);
    expect(slowUdp).toBeLessThanOrEqual(3);
    expect(quantile(tcpLatencies, 0.99)).toBeGreaterThan(200);
    expect(quantile(tcpLatencies, 0.99)).toBeGreaterThan(1.5 * quantile(udpLatencies, 0.99));
  });
});
