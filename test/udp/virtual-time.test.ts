// Timer behaviour on a VirtualClock: two real UdpConnections joined by an in-memory link, so
// minutes of retransmission back-off and idle time run in milliseconds and exactly.
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock.js';
import { TransportError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { UdpConnection } from '../../transports/udp/connection.js';
import { acceptClientInit, createClientInit, finishClientHandshake } from '../../transports/udp/handshake.js';
import { generateX25519 } from '../../transports/udp/keys.js';
import { PacketType, parsePacket } from '../../transports/udp/packet.js';
import { resolveUdpSettings, type UdpSettings } from '../../transports/udp/settings.js';
import { Recorder } from './helpers.js';

interface Link {
  clock: VirtualClock;
  client: UdpConnection;
  server: UdpConnection;
  /** Virtual send times of server datagrams, with whether the link dropped them. */
  serverSends: { at: number; dropped: boolean }[];
  up: boolean;
}

const connections: UdpConnection[] = [];

afterEach(() => {
  for (const connection of connections.splice(0)) connection.destroy();
});

/** Builds a connected pair by running the real handshake functions, then wires their datagrams together. */
function createLink(overrides: UdpSettings = {}): Link {
  const clock = new VirtualClock();
  const settings = resolveUdpSettings({ clock, ...overrides });
  const staticKey = generateX25519();
  const cid = Buffer.alloc(8, 9);
  const init = createClientInit(staticKey.publicRaw, cid, { receiveWindow: settings.windowSegments })!;
  const accepted = acceptClientInit(staticKey, cid, init.ephemeral.publicRaw, init.ciphertext, { receiveWindow: settings.windowSegments });
  if (accepted.kind !== 'accepted') throw new Error('handshake rejected');
  const clientResult = finishClientHandshake(init, accepted.ephemeralPublic, accepted.ciphertext)!;

  const link = { clock, up: true, serverSends: [] } as unknown as Link;
  const deliver = (target: () => UdpConnection, from: { address: string; port: number }) => (datagram: Buffer) => {
    // One millisecond of latency, on the virtual clock.
    clock.setTimeout(() => {
      const packet = parsePacket(datagram);
      if (packet?.type === PacketType.DATA) target().receive(packet, from);
    }, 1);
  };
  const toServer = deliver(() => link.server, { address: '10.0.0.1', port: 1000 });
  const toClient = deliver(() => link.client, { address: '10.0.0.2', port: 2000 });
  const common = { transport: 'udp', cid, maxFrameSize: 65_536, settings, logger: silentLogger(), onEnded: () => {} };
  link.client = new UdpConnection({
    ...common,
    role: 'client',
    keys: clientResult.keys,
    peer: clientResult.peer,
    remote: { address: '10.0.0.2', port: 2000 },
    sendDatagram: (datagram) => {
      if (link.up) toServer(datagram);
    },
  });
  link.server = new UdpConnection({
    ...common,
    role: 'server',
    keys: accepted.result.keys,
    peer: accepted.result.peer,
    remote: { address: '10.0.0.1', port: 1000 },
    sendDatagram: (datagram) => {
      link.serverSends.push({ at: clock.now(), dropped: !link.up });
      if (link.up) toClient(datagram);
    },
  });
  connections.push(link.client, link.server);
  return link;
}

describe('udp timers on virtual time', () => {
  it('retransmission timeouts double up to maxRtoMs', () => {
    const link = createLink({ initialRtoMs: 500, minRtoMs: 150, maxRtoMs: 3_000, idleTimeoutMs: 0, deliveryTimeoutMs: 0 });
    const serverEvents = new Recorder(link.server);
    link.client.startProbing();
    link.clock.advance(50);
    expect(link.server.closed).toBe(false);

    // From here on every datagram is lost: the server retransmits its frame on the timer alone.
    // A 2 ms RTT sample makes the base RTO the 150 ms floor (2 + 4 * 1 + 10 ms ACK delay is less).
    link.server.seedRtt(2);
    link.up = false;
    const start = link.clock.now();
    link.server.send(Buffer.from('to a dead path'));
    link.clock.advance(20_000);
    const dataSends = link.serverSends.filter((send) => send.at >= start).map((send) => send.at - start);
    const gaps = dataSends.slice(1).map((at, i) => at - dataSends[i]!);
    expect(gaps.slice(0, 7)).toEqual([150, 300, 600, 1_200, 2_400, 3_000, 3_000]);
    expect(serverEvents.errors).toEqual([]);
  });

  it('idle timeout closes after five quiet minutes, not before', () => {
    const link = createLink({ idleTimeoutMs: 300_000 });
    const serverEvents = new Recorder(link.server);
    link.client.startProbing();
    // Long enough for the PING and its delayed ACK, so both sides are confirmed.
    link.clock.advance(50);
    link.up = false;
    link.clock.advance(299_000);
    expect(link.server.closed).toBe(false);
    link.clock.advance(2_000);
    expect(link.server.closed).toBe(true);
    expect(serverEvents.closeInfo?.error).toBeInstanceOf(TransportError);
  });

  it('delivery timeout ends a connection after a minute without acknowledgements', () => {
    const link = createLink({ deliveryTimeoutMs: 60_000, idleTimeoutMs: 0 });
    const clientEvents = new Recorder(link.client);
    link.client.startProbing();
    // Long enough for the PING and its delayed ACK, so both sides are confirmed.
    link.clock.advance(50);
    link.up = false;
    link.server.send(Buffer.from('lost'));
    link.clock.advance(59_000);
    expect(link.server.closed).toBe(false);
    link.clock.advance(5_000);
    expect(link.server.closed).toBe(true);
    expect(clientEvents.closeInfo).toBeNull();
  });

  it('client probes until the server confirms the handshake', () => {
    const link = createLink({ handshakeTimeoutMs: 2_000, initialRtoMs: 200, idleTimeoutMs: 0 });
    const clientEvents = new Recorder(link.client);
    link.up = false;
    link.client.startProbing();
    link.clock.advance(1_999);
    expect(link.client.closed).toBe(false);
    link.clock.advance(2);
    expect(link.client.closed).toBe(true);
    expect(clientEvents.closeInfo?.error).toMatchObject({ code: 'CONNECT_TIMEOUT' });
  });
});
