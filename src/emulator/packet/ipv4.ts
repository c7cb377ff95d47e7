// Just enough IPv4, TCP and UDP header parsing for per-protocol stats and the emulated NAT.
// Field offsets follow RFC 791 section 3.1 (IPv4), RFC 9293 section 3.1 (TCP) and RFC 768 (UDP).

export const IP_PROTOCOL_ICMP = 1;
export const IP_PROTOCOL_TCP = 6;
export const IP_PROTOCOL_UDP = 17;

export type ProtocolName = 'tcp' | 'udp' | 'icmp' | 'other';

const TCP_FLAG_SYN = 0x02;
const TCP_FLAG_ACK = 0x10;

export interface Ipv4Packet {
  protocol: number;
  /** Source and destination addresses as unsigned 32-bit integers. */
  source: number;
  destination: number;
  headerBytes: number;
  /** TCP or UDP ports; undefined for other protocols and for fragments after the first. */
  sourcePort: number | undefined;
  destinationPort: number | undefined;
  /** TCP only: a SYN without ACK, the first packet of a connection. */
  opensConnection: boolean;
}

export function protocolName(protocol: number): ProtocolName {
  if (protocol === IP_PROTOCOL_TCP) return 'tcp';
  if (protocol === IP_PROTOCOL_UDP) return 'udp';
  if (protocol === IP_PROTOCOL_ICMP) return 'icmp';
  return 'other';
}

/** Parses an IPv4 header; returns undefined for anything else (IPv6, truncated packets). */
export function parseIpv4(packet: Buffer): Ipv4Packet | undefined {
  if (packet.length < 20 || packet[0]! >> 4 !== 4) return undefined;
  const headerBytes = (packet[0]! & 0x0f) * 4;
  if (headerBytes < 20 || packet.length < headerBytes) return undefined;
  const protocol = packet[9]!;
  const parsed: Ipv4Packet = {
    protocol,
    source: packet.readUInt32BE(12),
    destination: packet.readUInt32BE(16),
    headerBytes,
    sourcePort: undefined,
    destinationPort: undefined,
    opensConnection: false,
  };
  // Only the first fragment (offset 0) carries the transport header.
  const fragmentOffset = packet.readUInt16BE(6) & 0x1fff;
  const hasPorts = (protocol === IP_PROTOCOL_TCP || protocol === IP_PROTOCOL_UDP) && fragmentOffset === 0;
  if (hasPorts && packet.length >= headerBytes + checksumOffset(protocol) + 2) {
    parsed.sourcePort = packet.readUInt16BE(headerBytes);
    parsed.destinationPort = packet.readUInt16BE(headerBytes + 2);
    if (protocol === IP_PROTOCOL_TCP) {
      const flags = packet[headerBytes + 13]!;
      parsed.opensConnection = (flags & TCP_FLAG_SYN) !== 0 && (flags & TCP_FLAG_ACK) === 0;
    }
  }
  return parsed;
}

function checksumOffset(protocol: number): number {
  return protocol === IP_PROTOCOL_TCP ? 16 : 6;
}

/** Incremental one's complement checksum update for one changed 16-bit word (RFC 1624 eqn. 3). */
export function updateChecksum(checksum: number, oldWord: number, newWord: number): number {
  let sum = (~checksum & 0xffff) + (~oldWord & 0xffff) + newWord;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Replaces the source or destination port of a TCP or UDP packet in place and fixes the
 * transport checksum, which covers the ports. The IP header checksum does not cover them.
 */
export function rewritePort(packet: Buffer, parsed: Ipv4Packet, field: 'source' | 'destination', port: number): void {
  const offset = parsed.headerBytes + (field === 'source' ? 0 : 2);
  const oldPort = packet.readUInt16BE(offset);
  if (oldPort === port) return;
  packet.writeUInt16BE(port, offset);
  if (field === 'source') parsed.sourcePort = port;
  else parsed.destinationPort = port;

  const checksumAt = parsed.headerBytes + checksumOffset(parsed.protocol);
  const checksum = packet.readUInt16BE(checksumAt);
  // RFC 768: a UDP checksum of 0 means none was computed, so there is nothing to update.
  if (parsed.protocol === IP_PROTOCOL_UDP && checksum === 0) return;
  let updated = updateChecksum(checksum, oldPort, port);
  // RFC 768: a computed UDP checksum of 0 is sent as all ones.
  if (parsed.protocol === IP_PROTOCOL_UDP && updated === 0) updated = 0xffff;
  packet.writeUInt16BE(updated, checksumAt);
}

export function formatIpv4(address: number): string {
  return [address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff].join('.');
}

/** Parses dotted-quad text; returns undefined when it is not an IPv4 address. */
export function parseIpv4Address(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}
