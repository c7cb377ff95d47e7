// One direction of the packet emulator: packets read from one TUN device pass the shared link
// model (loss, queue, bandwidth or trace, delay, jitter) and are written to the other TUN device
// at their delivery time. Every protocol gets the same treatment, because the model looks only at
// packet sizes.
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import { DeliveryQueue } from '../delivery-queue.js';
import type { LinkDirection, LinkDropReason } from '../link-model.js';
import type { LinkSide } from '../relay-types.js';
import { parseIpv4, protocolName, type Ipv4Packet, type ProtocolName } from './ipv4.js';

/** Reason the packet emulator did not forward a packet. */
export type PacketDropReason =
  | LinkDropReason
  /** The emulated NAT had no live mapping for the flow. */
  | 'nat'
  /** Not an IPv4 packet; only IPv4 is forwarded. */
  | 'unsupported'
  /** Writing to the receiving TUN device failed. */
  | 'write-failed';

export interface PacketDirectionStats {
  unit: 'packet';
  /** Packets read from the sending side's TUN device. */
  offeredUnits: number;
  offeredBytes: number;
  /** Packets written to the receiving side's TUN device. */
  forwardedUnits: number;
  forwardedBytes: number;
  dropped: Record<PacketDropReason, number>;
  droppedBytes: number;
  /** Packets accepted by the link model and still waiting for their delivery time. */
  inFlightUnits: number;
  /** Largest backlog in bytes waiting for the bandwidth limit or trace. */
  maxQueueBytes: number;
  forwardedByProtocol: Record<ProtocolName, number>;
  droppedByProtocol: Record<ProtocolName, number>;
}

/** Decides about a packet at one point of the path; 'drop' is counted with reason 'nat'. */
export type PacketHook = (packet: Buffer, parsed: Ipv4Packet, nowMs: number) => 'forward' | 'drop';

export interface PacketPathOptions {
  side: LinkSide;
  link: LinkDirection;
  clock: Clock;
  logger: Logger;
  /** Writes one packet to the receiving TUN device; returns bytes written or the negated errno. */
  write: (packet: Buffer) => number;
  /** Runs when the packet is read, before the link model. */
  beforeLink?: PacketHook;
  /** Runs at the delivery time, before the write. */
  afterLink?: PacketHook;
}

interface InFlight {
  packet: Buffer;
  parsed: Ipv4Packet;
}

const protocolCounters = (): Record<ProtocolName, number> => ({ tcp: 0, udp: 0, icmp: 0, other: 0 });

/** Log at most this many failed writes per path, so a removed device does not flood the log. */
const MAX_LOGGED_WRITE_ERRORS = 5;

export class PacketPath {
  private readonly queue: DeliveryQueue<InFlight>;
  private readonly counters = {
    offeredUnits: 0,
    offeredBytes: 0,
    forwardedUnits: 0,
    forwardedBytes: 0,
    dropped: { loss: 0, queue: 0, blackhole: 0, nat: 0, unsupported: 0, 'write-failed': 0 } as Record<PacketDropReason, number>,
    droppedBytes: 0,
    forwardedByProtocol: protocolCounters(),
    droppedByProtocol: protocolCounters(),
  };
  private loggedWriteErrors = 0;

  constructor(private readonly options: PacketPathOptions) {
    this.queue = new DeliveryQueue(options.clock, (item) => this.deliver(item));
  }

  get link(): LinkDirection {
    return this.options.link;
  }

  /** Takes one packet read from the sending side. */
  offer(packet: Buffer): void {
    this.counters.offeredUnits++;
    this.counters.offeredBytes += packet.length;
    const parsed = parseIpv4(packet);
    if (parsed === undefined) {
      this.drop('unsupported', packet.length, 'other');
      return;
    }
    const nowMs = this.options.clock.now();
    if (this.options.beforeLink?.(packet, parsed, nowMs) === 'drop') {
      this.drop('nat', packet.length, protocolName(parsed.protocol));
      return;
    }
    const result = this.options.link.schedule(packet.length, nowMs);
    if ('drop' in result) {
      this.drop(result.drop, packet.length, protocolName(parsed.protocol));
      return;
    }
    this.queue.push(result.deliverAtMs, { packet, parsed });
  }

  stats(): PacketDirectionStats {
    const c = this.counters;
    return {
      unit: 'packet',
      offeredUnits: c.offeredUnits,
      offeredBytes: c.offeredBytes,
      forwardedUnits: c.forwardedUnits,
      forwardedBytes: c.forwardedBytes,
      dropped: { ...c.dropped },
      droppedBytes: c.droppedBytes,
      inFlightUnits: this.queue.size,
      maxQueueBytes: this.options.link.stats().maxQueueBytes,
      forwardedByProtocol: { ...c.forwardedByProtocol },
      droppedByProtocol: { ...c.droppedByProtocol },
    };
  }

  /** Discards packets in flight and ignores later ones. */
  close(): void {
    this.queue.close();
  }

  private deliver({ packet, parsed }: InFlight): void {
    const protocol = protocolName(parsed.protocol);
    if (this.options.afterLink?.(packet, parsed, this.options.clock.now()) === 'drop') {
      this.drop('nat', packet.length, protocol);
      return;
    }
    const written = this.options.write(packet);
    if (written < 0) {
      this.drop('write-failed', packet.length, protocol);
      if (this.loggedWriteErrors < MAX_LOGGED_WRITE_ERRORS) {
        this.loggedWriteErrors++;
        this.options.logger.warn({ side: this.options.side, errno: -written, bytes: packet.length }, 'writing a packet to the TUN device failed');
      }
      return;
    }
    this.counters.forwardedUnits++;
    this.counters.forwardedBytes += packet.length;
    this.counters.forwardedByProtocol[protocol]++;
  }

  private drop(reason: PacketDropReason, bytes: number, protocol: ProtocolName): void {
    this.counters.dropped[reason]++;
    this.counters.droppedBytes += bytes;
    this.counters.droppedByProtocol[protocol]++;
  }
}
