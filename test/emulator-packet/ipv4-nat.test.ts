// Header parsing, checksum updates and NAT decisions on hand-built packets; no namespaces needed.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { IP_PROTOCOL_TCP, IP_PROTOCOL_UDP, parseIpv4, parseIpv4Address, rewritePort } from '../../src/emulator/packet/ipv4.js';
import { PacketNat } from '../../src/emulator/packet/nat.js';

const CLIENT = '198.18.0.1';
const SERVER = '198.18.1.1';
const SYN = 0x02;
const ACK = 0x10;

/** One's complement sum of 16-bit words, as RFC 1071 defines it. */
function onesComplementSum(...buffers: Buffer[]): number {
  let sum = 0;
  for (const buffer of buffers) {
    for (let i = 0; i < buffer.length; i += 2) sum += (buffer[i]! << 8) | (buffer[i + 1] ?? 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Computes the TCP or UDP checksum from scratch over the pseudo-header and the segment. */
function transportChecksum(packet: Buffer): number {
  const headerBytes = (packet[0]! & 0x0f) * 4;
  const segment = Buffer.from(packet.subarray(headerBytes));
  const checksumAt = packet[9] === IP_PROTOCOL_TCP ? 16 : 6;
  segment.writeUInt16BE(0, checksumAt);
  const pseudo = Buffer.alloc(12);
  packet.copy(pseudo, 0, 12, 20);
  pseudo[9] = packet[9]!;
  pseudo.writeUInt16BE(segment.length, 10);
  const checksum = ~onesComplementSum(pseudo, segment) & 0xffff;
  return packet[9] === IP_PROTOCOL_UDP && checksum === 0 ? 0xffff : checksum;
}

function buildPacket(protocol: number, source: string, sourcePort: number, destination: string, destinationPort: number, options: { tcpFlags?: number; payload?: string } = {}): Buffer {
  const transportBytes = protocol === IP_PROTOCOL_TCP ? 20 : 8;
  const payload = Buffer.from(options.payload ?? 'hello, namespace');
  const packet = Buffer.alloc(20 + transportBytes + payload.length);
  packet[0] = 0x45;
  packet.writeUInt16BE(packet.length, 2);
  packet[8] = 64;
  packet[9] = protocol;
  packet.writeUInt32BE(parseIpv4Address(source)!, 12);
  packet.writeUInt32BE(parseIpv4Address(destination)!, 16);
  packet.writeUInt16BE(sourcePort, 20);
  packet.writeUInt16BE(destinationPort, 22);
  if (protocol === IP_PROTOCOL_TCP) {
    packet[32] = 5 << 4;
    packet[33] = options.tcpFlags ?? ACK;
  } else {
    packet.writeUInt16BE(transportBytes + payload.length, 24);
  }
  payload.copy(packet, 20 + transportBytes);
  packet.writeUInt16BE(transportChecksum(packet), protocol === IP_PROTOCOL_TCP ? 36 : 26);
  return packet;
}

function checksumOf(packet: Buffer): number {
  return packet.readUInt16BE(packet[9] === IP_PROTOCOL_TCP ? 36 : 26);
}

describe('ipv4 parsing and port rewrite', () => {
  it('parses ports and the SYN flag', () => {
    const parsed = parseIpv4(buildPacket(IP_PROTOCOL_TCP, CLIENT, 40_000, SERVER, 443, { tcpFlags: SYN }));

    expect(parsed?.protocol).toBe(IP_PROTOCOL_TCP);
    expect(parsed?.sourcePort).toBe(40_000);
    expect(parsed?.destinationPort).toBe(443);
    expect(parsed?.opensConnection).toBe(true);
    expect(parseIpv4(buildPacket(IP_PROTOCOL_TCP, CLIENT, 40_000, SERVER, 443, { tcpFlags: SYN | ACK }))?.opensConnection).toBe(false);
  });

  it('rejects IPv6 and truncated packets', () => {
    const ipv6 = Buffer.alloc(48);
    ipv6[0] = 0x60;

    expect(parseIpv4(ipv6)).toBeUndefined();
    expect(parseIpv4(Buffer.alloc(10, 0x45))).toBeUndefined();
  });

  it('leaves later fragments without ports', () => {
    const packet = buildPacket(IP_PROTOCOL_UDP, CLIENT, 5_000, SERVER, 53);
    packet.writeUInt16BE(185, 6);

    expect(parseIpv4(packet)?.sourcePort).toBeUndefined();
  });

  it.each([
    ['tcp', IP_PROTOCOL_TCP],
    ['udp', IP_PROTOCOL_UDP],
  ])('keeps the %s checksum valid for every port', (_name, protocol) => {
    for (const [from, to] of [[1, 65_535], [40_000, 20_000], [65_535, 0], [12_345, 54_321], [80, 81]] as const) {
      const packet = buildPacket(protocol, CLIENT, from, SERVER, 9_000);
      const parsed = parseIpv4(packet)!;

      rewritePort(packet, parsed, 'source', to);
      rewritePort(packet, parsed, 'destination', from);

      expect(packet.readUInt16BE(20)).toBe(to);
      expect(packet.readUInt16BE(22)).toBe(from);
      expect(checksumOf(packet)).toBe(transportChecksum(packet));
    }
  });

  it('leaves an absent udp checksum at zero', () => {
    const packet = buildPacket(IP_PROTOCOL_UDP, CLIENT, 5_000, SERVER, 53);
    packet.writeUInt16BE(0, 26);

    rewritePort(packet, parseIpv4(packet)!, 'source', 6_000);

    expect(packet.readUInt16BE(26)).toBe(0);
  });
});

describe('packet nat', () => {
  const outbound = (nat: PacketNat, packet: Buffer, nowMs: number) => nat.outbound(packet, parseIpv4(packet)!, nowMs);
  const inbound = (nat: PacketNat, packet: Buffer, nowMs: number) => nat.inbound(packet, parseIpv4(packet)!, nowMs);

  it('without a timeout changes no packet', () => {
    const nat = new PacketNat(undefined, silentLogger());
    const request = buildPacket(IP_PROTOCOL_UDP, CLIENT, 5_000, SERVER, 53);
    const copy = Buffer.from(request);

    expect(outbound(nat, request, 0)).toBe('forward');
    expect(request).toEqual(copy);
    // Flows opened from the gateway side pass too.
    expect(inbound(nat, buildPacket(IP_PROTOCOL_TCP, SERVER, 443, CLIENT, 7_000, { tcpFlags: SYN }), 1_000_000)).toBe('forward');
  });

  it('kills a tcp connection after idle', () => {
    const nat = new PacketNat(1_000, silentLogger());
    expect(outbound(nat, buildPacket(IP_PROTOCOL_TCP, CLIENT, 40_000, SERVER, 443, { tcpFlags: SYN }), 0)).toBe('forward');
    // Inbound packets refresh TCP mappings.
    expect(inbound(nat, buildPacket(IP_PROTOCOL_TCP, SERVER, 443, CLIENT, 40_000, { tcpFlags: SYN | ACK }), 900)).toBe('forward');
    expect(outbound(nat, buildPacket(IP_PROTOCOL_TCP, CLIENT, 40_000, SERVER, 443), 1_800)).toBe('forward');

    expect(outbound(nat, buildPacket(IP_PROTOCOL_TCP, CLIENT, 40_000, SERVER, 443), 2_800)).toBe('drop');
    expect(inbound(nat, buildPacket(IP_PROTOCOL_TCP, SERVER, 443, CLIENT, 40_000), 2_900)).toBe('drop');
    // A new connection from the same port gets a new external port.
    const syn = buildPacket(IP_PROTOCOL_TCP, CLIENT, 40_000, SERVER, 443, { tcpFlags: SYN });
    expect(outbound(nat, syn, 3_000)).toBe('forward');
    expect(syn.readUInt16BE(20)).not.toBe(40_000);
    expect(checksumOf(syn)).toBe(transportChecksum(syn));
  });

  it('refreshes udp only outbound', () => {
    const nat = new PacketNat(1_000, silentLogger());
    expect(outbound(nat, buildPacket(IP_PROTOCOL_UDP, CLIENT, 5_000, SERVER, 53), 0)).toBe('forward');
    expect(inbound(nat, buildPacket(IP_PROTOCOL_UDP, SERVER, 53, CLIENT, 5_000), 900)).toBe('forward');

    expect(inbound(nat, buildPacket(IP_PROTOCOL_UDP, SERVER, 53, CLIENT, 5_000), 1_000)).toBe('drop');
    const next = buildPacket(IP_PROTOCOL_UDP, CLIENT, 5_000, SERVER, 53);
    expect(outbound(nat, next, 1_100)).toBe('forward');
    const externalPort = next.readUInt16BE(20);
    expect(externalPort).not.toBe(5_000);

    const reply = buildPacket(IP_PROTOCOL_UDP, SERVER, 53, CLIENT, externalPort);
    expect(inbound(nat, reply, 1_200)).toBe('forward');
    expect(reply.readUInt16BE(22)).toBe(5_000);
    expect(checksumOf(reply)).toBe(transportChecksum(reply));
    expect(nat.stats(1_200)).toEqual({ activeMappings: 1, createdMappings: 2, retiredMappings: 1 });
  });
});
