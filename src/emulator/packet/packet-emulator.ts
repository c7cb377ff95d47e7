// The packet-level link emulator: two network namespaces joined through this process by two TUN
// devices. Every IP packet between them passes the link model of its direction, so loss drops
// real packets and kernel TCP has to recover with its own retransmissions (head-of-line
// blocking, retransmission timeouts), as on a real link. The relay backend (LinkEmulator) cannot
// show this for TCP because it relays byte streams.
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { systemClock, type Clock } from '../../clock.js';
import { silentLogger, type Logger } from '../../logger.js';
import { seededRandom } from '../../random.js';
import type { BlackholeDirection, ScheduledBlackhole } from '../emulator.js';
import { LinkDirection } from '../link-model.js';
import { preloadProfileTraces, resolveProfile, type LinkProfile } from '../profiles.js';
import { directionSeed, type LinkSide } from '../relay-types.js';
import { BlackholeControl } from '../blackhole-control.js';
import { PacketEmulatorError } from './errors.js';
import { DEFAULT_NAMESPACE_PREFIX, namespacePairNames } from './namespaces.js';
import { loadTunAddon, type TunAddon, type TunReaderHandle, type TunReadError } from './native.js';
import { PacketNat, type NatStats } from './nat.js';
import { PacketPath, type PacketDirectionStats } from './packet-path.js';
import { spawnInNamespace, spawnNodeInNamespace, stopProcess } from './spawn.js';
import { createTopology, DEFAULT_CLIENT_ADDRESS, DEFAULT_GATEWAY_ADDRESS, destroyTopology, type Topology } from './topology.js';

export interface PacketLinkEmulatorOptions {
  /** A profile object or the name of a built-in profile (see profiles.ts). */
  profile: LinkProfile | string;
  /** Seed for loss and jitter draws. Default 1. */
  seed?: number;
  /** Default: a silent logger. */
  logger?: Logger;
  /** Time source for the link model and delivery timers; default the system clock. */
  clock?: Clock;
  /** Start of every namespace name, used by cleanupStale(); default 'plab-'. */
  namespacePrefix?: string;
  /** Distinguishes emulators of one process in namespace names; default a counter. */
  label?: string;
  /** Client-side address, inside 198.18.0.0/15; default 198.18.0.1. */
  clientAddress?: string;
  /** Gateway-side address, inside 198.18.0.0/15; default 198.18.1.1. */
  gatewayAddress?: string;
}

export interface PacketEmulatorStats {
  backend: 'packet';
  profile: string;
  up: PacketDirectionStats;
  down: PacketDirectionStats;
  blackhole: Record<LinkSide, boolean>;
  nat: NatStats;
}

/** Packets read per event-loop wake-up; bounds how long one burst blocks the event loop. */
const READ_BATCH = 64;
let instanceCounter = 0;

export class PacketLinkEmulator {
  readonly clientNamespace: string;
  readonly gatewayNamespace: string;
  readonly clientAddress: string;
  readonly gatewayAddress: string;
  private currentProfile: LinkProfile;
  private readonly paths: Record<LinkSide, PacketPath>;
  private readonly readers: TunReaderHandle[] = [];
  private readonly nat: PacketNat;
  private readonly blackholes: BlackholeControl;
  private readonly children = new Set<ChildProcess>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly addon: TunAddon,
    private readonly topology: Topology,
    profile: LinkProfile,
    seed: number,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.clientNamespace = topology.client.namespace;
    this.gatewayNamespace = topology.gateway.namespace;
    this.clientAddress = topology.client.address;
    this.gatewayAddress = topology.gateway.address;
    this.currentProfile = profile;
    this.nat = new PacketNat(profile.natIdleTimeoutMs, logger.child({ part: 'nat' }));
    const now = clock.now();
    const link = (side: LinkSide): LinkDirection => new LinkDirection(profile[side], { random: seededRandom(directionSeed(seed, side)), startMs: now });
    const write = (side: TopologySideName) => (packet: Buffer) => addon.writePacket(topology[side].device.fd, packet);
    this.paths = {
      // The NAT sits at the gateway end of the link: outbound packets are translated after
      // crossing it, inbound ones before entering it.
      up: new PacketPath({ side: 'up', link: link('up'), clock, logger, write: write('gateway'), afterLink: (packet, parsed, nowMs) => this.nat.outbound(packet, parsed, nowMs) }),
      down: new PacketPath({ side: 'down', link: link('down'), clock, logger, write: write('client'), beforeLink: (packet, parsed, nowMs) => this.nat.inbound(packet, parsed, nowMs) }),
    };
    this.blackholes = new BlackholeControl(clock, logger, now, (side, on) => this.paths[side].link.setBlackhole(on));
  }

  /**
   * Creates the namespaces and TUN devices and starts forwarding. Throws ConfigError for an
   * invalid profile and TraceInvalidError for a bad trace. Throws PacketEmulatorError when the
   * machine cannot run this backend ('unavailable') or setting up fails ('setup-failed'). After a
   * failure nothing this call created is left behind.
   */
  static async start(options: PacketLinkEmulatorOptions): Promise<PacketLinkEmulator> {
    const profile = resolveProfile(options.profile);
    preloadProfileTraces(profile);
    const addon = loadTunAddon();
    const clock = options.clock ?? systemClock;
    const seed = options.seed ?? 1;
    const names = namespacePairNames(options.namespacePrefix ?? DEFAULT_NAMESPACE_PREFIX, options.label ?? String(++instanceCounter));
    const logger = (options.logger ?? silentLogger()).child({ component: 'packet-link-emulator', namespaces: `${names.client},${names.gateway}` });

    const topology = await createTopology(addon, names, options.clientAddress ?? DEFAULT_CLIENT_ADDRESS, options.gatewayAddress ?? DEFAULT_GATEWAY_ADDRESS, logger);
    let emulator: PacketLinkEmulator | undefined;
    try {
      emulator = new PacketLinkEmulator(addon, topology, profile, seed, clock, logger);
      emulator.startReading('up', topology.client.device.fd);
      emulator.startReading('down', topology.gateway.device.fd);
    } catch (error) {
      if (emulator === undefined) await destroyTopology(addon, topology, logger);
      else await emulator.close();
      throw new PacketEmulatorError('setup-failed', 'starting to forward between the TUN devices failed', { cause: error });
    }
    logger.info({ clientAddress: emulator.clientAddress, gatewayAddress: emulator.gatewayAddress, profile: profile.name, seed }, 'packet link emulator started');
    return emulator;
  }

  get profile(): LinkProfile {
    return this.currentProfile;
  }

  /** Switches to another profile at once; packets already scheduled keep their delivery times. */
  setProfile(profile: LinkProfile | string): void {
    const resolved = resolveProfile(profile);
    preloadProfileTraces(resolved);
    this.paths.up.link.setConfig(resolved.up);
    this.paths.down.link.setConfig(resolved.down);
    this.nat.setIdleTimeout(resolved.natIdleTimeoutMs);
    this.currentProfile = resolved;
    this.logger.info({ profile: resolved.name, up: resolved.up, down: resolved.down, natIdleTimeoutMs: resolved.natIdleTimeoutMs }, 'link profile changed');
  }

  /** Drops every packet in `direction` until restore(); cancels a pending timed restore of it. */
  blackhole(direction: BlackholeDirection = 'both'): void {
    this.blackholes.blackhole(direction);
  }

  /** Ends every blackhole in both directions and cancels pending timed restores. */
  restore(): void {
    this.blackholes.restore();
  }

  /** Blackholes `direction` now and restores it after `durationMs`. */
  blackholeFor(durationMs: number, direction: BlackholeDirection = 'both'): void {
    this.blackholes.blackholeFor(durationMs, direction);
  }

  /** Plans blackhole windows relative to start(); a window whose start has passed begins now. */
  scheduleBlackholes(windows: readonly ScheduledBlackhole[]): void {
    this.blackholes.schedule(windows);
  }

  /**
   * Retires every NAT mapping, as after the client's address changed: UDP flows continue from new
   * external ports, TCP connections are dead (their packets are dropped silently).
   */
  rebind(): void {
    this.nat.rebind();
    this.logger.info('NAT mappings rebound');
  }

  /** Starts `command args` in the client namespace; close() stops it. */
  spawnInClient(command: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    return this.track(() => spawnInNamespace(this.clientNamespace, command, args, options));
  }

  /** Starts `command args` in the gateway namespace; close() stops it. */
  spawnInGateway(command: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    return this.track(() => spawnInNamespace(this.gatewayNamespace, command, args, options));
  }

  /** Runs a script with Node and tsx in the client or gateway namespace; close() stops it. */
  spawnNode(side: TopologySideName, script: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    return this.track(() => spawnNodeInNamespace(this.topology[side].namespace, script, args, options));
  }

  stats(): PacketEmulatorStats {
    return {
      backend: 'packet',
      profile: this.currentProfile.name,
      up: this.paths.up.stats(),
      down: this.paths.down.stats(),
      blackhole: { up: this.paths.up.link.blackhole, down: this.paths.down.link.blackhole },
      nat: this.nat.stats(this.clock.now()),
    };
  }

  /** Returns one line for logs and reports: backend, namespaces, addresses, profile and loss model. */
  describe(): string {
    return (
      `packet link emulator between namespaces ${this.clientNamespace} (${this.clientAddress}) and ` +
      `${this.gatewayNamespace} (${this.gatewayAddress}), profile ${this.currentProfile.name} ` +
      `(${this.currentProfile.description}); loss drops IP packets, so TCP recovers with its own retransmissions`
    );
  }

  /**
   * Stops forwarding, stops processes started through this emulator, closes the TUN devices and
   * removes both namespaces with any process still inside.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.blackholes.cancelAll();
    for (const reader of this.readers) reader.stop();
    this.paths.up.close();
    this.paths.down.close();
    await Promise.all([...this.children].map((child) => stopProcess(child)));
    await destroyTopology(this.addon, this.topology, this.logger);
    this.logger.info('packet link emulator stopped');
  }

  private startReading(side: LinkSide, fd: number): void {
    const path = this.paths[side];
    const reader = new this.addon.TunReader(
      fd,
      (error: TunReadError | null, packets: Buffer[]) => {
        for (const packet of packets) path.offer(packet);
        if (error !== null) this.logger.error({ err: error, side }, 'reading from the TUN device failed; this direction stopped');
      },
      READ_BATCH,
    );
    this.readers.push(reader);
  }

  private track(start: () => ChildProcess): ChildProcess {
    if (this.closing !== undefined) throw new PacketEmulatorError('closed', 'cannot start a process: the packet link emulator is closed');
    const child = start();
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }
}

export type TopologySideName = 'client' | 'gateway';
