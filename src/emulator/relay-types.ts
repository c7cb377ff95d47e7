// Types shared by the UDP and TCP relays and the emulator facade.
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { LinkDirection } from './link-model.js';
import type { LinkProfile } from './profiles.js';

/** "up" is client to target, "down" is target to client. */
export type LinkSide = 'up' | 'down';

/** Reason a relay did not forward a unit. */
export type RelayDropReason =
  | 'loss'
  | 'queue'
  | 'blackhole'
  /** The emulated NAT had forgotten the flow or connection. */
  | 'nat'
  /** The receiving socket was already closed. */
  | 'closed';

export interface DirectionStats {
  /** 'datagram' for UDP, 'chunk' for TCP (one socket read, split into pieces of at most 16 KiB). */
  unit: 'datagram' | 'chunk';
  /** Units that entered the link model (TCP: after any blackhole hold). */
  offeredUnits: number;
  offeredBytes: number;
  /** Units written to the receiving socket. */
  forwardedUnits: number;
  forwardedBytes: number;
  dropped: Record<RelayDropReason, number>;
  droppedBytes: number;
  /** TCP only: units that were "lost" and delivered one retransmission timeout late. */
  lossDelayedUnits: number;
  /** Largest backlog in bytes waiting for the bandwidth limit or trace. */
  maxQueueBytes: number;
  /** TCP only: largest number of bytes one connection direction held during a blackhole. */
  maxHeldBytes: number;
}

export interface RelayStats {
  up: DirectionStats;
  down: DirectionStats;
  /** Open UDP flows (NAT mappings) or TCP connections. */
  activeFlows: number;
}

export interface RelayOptions {
  listenHost: string;
  listenPort: number;
  targetHost: string;
  targetPort: number;
  profile: LinkProfile;
  seed: number;
  logger: Logger;
  clock: Clock;
}

/** Operations the facade calls on a relay backend. */
export interface Relay {
  readonly address: { host: string; port: number };
  setProfile(profile: LinkProfile): void;
  setBlackhole(side: LinkSide, on: boolean): void;
  isBlackholed(side: LinkSide): boolean;
  rebind(): void;
  stats(): RelayStats;
  close(): Promise<void>;
}

/** Counters a relay keeps on top of its link model's own. */
export class DirectionCounters {
  forwardedUnits = 0;
  forwardedBytes = 0;
  readonly relayDropped = { nat: 0, closed: 0 };
  relayDroppedBytes = 0;
  maxHeldBytes = 0;

  constructor(readonly unit: DirectionStats['unit']) {}

  forwarded(bytes: number): void {
    this.forwardedUnits++;
    this.forwardedBytes += bytes;
  }

  dropped(reason: 'nat' | 'closed', bytes: number): void {
    this.relayDropped[reason]++;
    this.relayDroppedBytes += bytes;
  }

  held(bytes: number): void {
    this.maxHeldBytes = Math.max(this.maxHeldBytes, bytes);
  }

  /** Merges these counters with the link model's into the public stats shape. */
  snapshot(link: LinkDirection): DirectionStats {
    const model = link.stats();
    return {
      unit: this.unit,
      offeredUnits: model.offeredUnits,
      offeredBytes: model.offeredBytes,
      forwardedUnits: this.forwardedUnits,
      forwardedBytes: this.forwardedBytes,
      dropped: { ...model.dropped, ...this.relayDropped },
      droppedBytes: model.droppedBytes + this.relayDroppedBytes,
      lossDelayedUnits: model.lossDelayedUnits,
      maxQueueBytes: model.maxQueueBytes,
      maxHeldBytes: this.maxHeldBytes,
    };
  }
}

/** Seeds for the two directions, different so their loss and jitter draws are independent. */
export function directionSeed(seed: number, side: LinkSide): number {
  return side === 'up' ? seed >>> 0 : (seed ^ 0x9e3779b9) >>> 0;
}

/**
 * Source address for the relay's sockets towards a target given as an IP literal: the loopback
 * address when the target is on loopback, so no relay socket listens on other interfaces, and
 * undefined (the OS chooses) otherwise.
 */
export function loopbackSourceFor(targetIp: string): string | undefined {
  if (targetIp === '::1') return '::1';
  if (/^127\./.test(targetIp)) return '127.0.0.1';
  return undefined;
}
