// A port-translating NAT between the client namespace and the gateway namespace, so NAT idle
// timeouts and address rebinding act on packets the way a carrier NAT does.
//
// Flows are TCP and UDP 5-tuples. Each gets a mapping to an external source port: the client's
// own port at first (so a NAT without expiry changes nothing), a fresh port after the previous
// mapping expired. Refresh rules follow the relay backend: UDP mappings are refreshed by outbound
// packets only (RFC 4787 section 4.3, REQ-6; inbound refresh is optional under REQ-6a), TCP
// mappings by packets in either direction. With an idle timeout set:
// - inbound packets without a live mapping are dropped silently;
// - an outbound TCP packet without a live mapping is dropped unless it is a SYN, so a connection
//   whose mapping expired is dead, as behind a NAT that forgot it;
// - an outbound UDP packet without a live mapping gets a new mapping and a new external port.
// NOTE: ICMP, other protocols and IP fragments after the first pass untranslated and untracked,
// and the inner headers of ICMP errors are not translated.
import type { Logger } from '../../logger.js';
import { formatIpv4, IP_PROTOCOL_TCP, IP_PROTOCOL_UDP, rewritePort, type Ipv4Packet } from './ipv4.js';

export type NatVerdict = 'forward' | 'drop';

/** Range of ports for mappings that replace expired ones. */
const FIRST_REMAP_PORT = 20_000;
const LAST_REMAP_PORT = 60_999;
/** Bound on remembered retired flows; the oldest are forgotten first. */
const MAX_RETIRED = 65_536;

interface Mapping {
  readonly protocol: number;
  readonly internalKey: string;
  readonly externalKey: string;
  readonly internalPort: number;
  readonly externalPort: number;
  lastActiveMs: number;
}

export interface NatStats {
  /** Mappings not yet expired. */
  activeMappings: number;
  createdMappings: number;
  /** Mappings ended by the idle timeout or rebind(). */
  retiredMappings: number;
}

function internalKeyOf(protocol: number, parsed: Ipv4Packet): string {
  return `${protocol}/${parsed.source}:${parsed.sourcePort}>${parsed.destination}:${parsed.destinationPort}`;
}

/** Key of a mapping on the gateway side: server address and port, and the external client port. */
function externalKeyOf(protocol: number, serverAddress: number, serverPort: number, externalPort: number): string {
  return `${protocol}/${serverAddress}:${serverPort}<${externalPort}`;
}

export class PacketNat {
  private idleTimeoutMs: number | undefined;
  private readonly byInternal = new Map<string, Mapping>();
  private readonly byExternal = new Map<string, Mapping>();
  /** External port of each internal flow's last retired mapping, so the next one differs. */
  private readonly retiredPorts = new Map<string, number>();
  /** External keys of retired mappings; inbound packets to them are dropped even without a timeout. */
  private readonly retiredExternal = new Set<string>();
  private nextRemapPort = FIRST_REMAP_PORT;
  private lastSweepMs = -Infinity;
  private created = 0;
  private retired = 0;

  constructor(
    idleTimeoutMs: number | undefined,
    private readonly logger: Logger,
  ) {
    this.idleTimeoutMs = idleTimeoutMs;
  }

  /** Changes the idle timeout; existing mappings keep their last activity time. */
  setIdleTimeout(idleTimeoutMs: number | undefined): void {
    this.idleTimeoutMs = idleTimeoutMs;
  }

  /** Handles a client-to-gateway packet that has crossed the link; may rewrite its source port. */
  outbound(packet: Buffer, parsed: Ipv4Packet, nowMs: number): NatVerdict {
    if (parsed.sourcePort === undefined || parsed.destinationPort === undefined) return 'forward';
    this.sweep(nowMs);
    const key = internalKeyOf(parsed.protocol, parsed);
    let mapping = this.live(this.byInternal.get(key), nowMs);
    if (mapping === undefined) {
      const enforcing = this.idleTimeoutMs !== undefined || this.retiredPorts.has(key);
      if (enforcing && parsed.protocol === IP_PROTOCOL_TCP && !parsed.opensConnection) return 'drop';
      mapping = this.create(key, parsed, nowMs);
    }
    mapping.lastActiveMs = nowMs;
    rewritePort(packet, parsed, 'source', mapping.externalPort);
    return 'forward';
  }

  /** Handles a gateway-to-client packet before it enters the link; may rewrite its destination port. */
  inbound(packet: Buffer, parsed: Ipv4Packet, nowMs: number): NatVerdict {
    if (parsed.sourcePort === undefined || parsed.destinationPort === undefined) return 'forward';
    const key = externalKeyOf(parsed.protocol, parsed.source, parsed.sourcePort, parsed.destinationPort);
    const mapping = this.live(this.byExternal.get(key), nowMs);
    if (mapping === undefined) {
      // Without a timeout the NAT is transparent, so flows opened from the gateway side still work.
      return this.idleTimeoutMs === undefined && !this.retiredExternal.has(key) ? 'forward' : 'drop';
    }
    if (mapping.protocol === IP_PROTOCOL_TCP) mapping.lastActiveMs = nowMs;
    rewritePort(packet, parsed, 'destination', mapping.internalPort);
    return 'forward';
  }

  /** Retires every mapping, as after the client's address changed: old flows are dead, new ones get new ports. */
  rebind(): void {
    for (const mapping of [...this.byInternal.values()]) this.retire(mapping, 'rebind');
  }

  stats(nowMs: number): NatStats {
    let active = 0;
    for (const mapping of this.byInternal.values()) if (this.live(mapping, nowMs) !== undefined) active++;
    return { activeMappings: active, createdMappings: this.created, retiredMappings: this.retired };
  }

  /** Returns the mapping if it has not expired; retires it and returns undefined if it has. */
  private live(mapping: Mapping | undefined, nowMs: number): Mapping | undefined {
    if (mapping === undefined) return undefined;
    if (this.idleTimeoutMs !== undefined && nowMs - mapping.lastActiveMs >= this.idleTimeoutMs) {
      this.retire(mapping, 'idle');
      return undefined;
    }
    return mapping;
  }

  private create(internalKey: string, parsed: Ipv4Packet, nowMs: number): Mapping {
    const internalPort = parsed.sourcePort as number;
    const previousPort = this.retiredPorts.get(internalKey);
    let externalPort = internalPort;
    const identityKey = externalKeyOf(parsed.protocol, parsed.destination, parsed.destinationPort as number, internalPort);
    if (previousPort !== undefined || this.byExternal.has(identityKey)) {
      externalPort = this.allocatePort(parsed, previousPort);
    }
    const mapping: Mapping = {
      protocol: parsed.protocol,
      internalKey,
      externalKey: externalKeyOf(parsed.protocol, parsed.destination, parsed.destinationPort as number, externalPort),
      internalPort,
      externalPort,
      lastActiveMs: nowMs,
    };
    this.byInternal.set(internalKey, mapping);
    this.byExternal.set(mapping.externalKey, mapping);
    this.retiredExternal.delete(mapping.externalKey);
    this.created++;
    this.logger.debug(
      { protocol: parsed.protocol === IP_PROTOCOL_UDP ? 'udp' : 'tcp', client: `${formatIpv4(parsed.source)}:${internalPort}`, externalPort },
      'NAT mapping created',
    );
    return mapping;
  }

  private allocatePort(parsed: Ipv4Packet, avoid: number | undefined): number {
    const span = LAST_REMAP_PORT - FIRST_REMAP_PORT + 1;
    for (let attempt = 0; attempt < span; attempt++) {
      const port = this.nextRemapPort;
      this.nextRemapPort = port === LAST_REMAP_PORT ? FIRST_REMAP_PORT : port + 1;
      const key = externalKeyOf(parsed.protocol, parsed.destination, parsed.destinationPort as number, port);
      if (port !== avoid && !this.byExternal.has(key)) return port;
    }
    // Every port towards this server is taken; reuse the client's port rather than fail the packet.
    return parsed.sourcePort as number;
  }

  private retire(mapping: Mapping, reason: 'idle' | 'rebind'): void {
    this.byInternal.delete(mapping.internalKey);
    if (this.byExternal.get(mapping.externalKey) === mapping) this.byExternal.delete(mapping.externalKey);
    this.retiredPorts.delete(mapping.internalKey);
    this.retiredPorts.set(mapping.internalKey, mapping.externalPort);
    this.retiredExternal.add(mapping.externalKey);
    this.retired++;
    this.trimRetired();
    this.logger.debug({ externalPort: mapping.externalPort, reason }, 'NAT mapping retired');
  }

  private trimRetired(): void {
    while (this.retiredPorts.size > MAX_RETIRED) {
      const oldest = this.retiredPorts.keys().next().value as string;
      this.retiredPorts.delete(oldest);
    }
    while (this.retiredExternal.size > MAX_RETIRED) {
      const oldest = this.retiredExternal.values().next().value as string;
      this.retiredExternal.delete(oldest);
    }
  }

  /** Retires expired mappings now and then, so flows that went quiet do not accumulate. */
  private sweep(nowMs: number): void {
    if (this.idleTimeoutMs === undefined || nowMs - this.lastSweepMs < this.idleTimeoutMs) return;
    this.lastSweepMs = nowMs;
    for (const mapping of [...this.byInternal.values()]) this.live(mapping, nowMs);
  }
}
