// The link emulator facade: a userspace relay between clients and one target that applies a link
// profile (delay, jitter, loss, bandwidth, queue limit, NAT timeout) and scripted outages
// (blackholes). Experiments and session tests use only this class.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { systemClock, type Clock } from '../clock.js';
import { ConfigError, PushlabError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { BlackholeControl } from './blackhole-control.js';
import { EmulatorError } from './errors.js';
import { preloadProfileTraces, resolveProfile, type LinkProfile } from './profiles.js';
import type { DirectionStats, LinkSide, Relay } from './relay-types.js';
import { TCP_LOSS_MODEL, TcpRelay } from './tcp-relay.js';
import { UdpRelay } from './udp-relay.js';

export type EmulatorProtocol = 'tcp' | 'udp';
/** "up" is client to target, "down" target to client, "both" the two at once. */
export type BlackholeDirection = LinkSide | 'both';

export interface LinkEmulatorOptions {
  protocol: EmulatorProtocol;
  /** Address clients connect to; default 127.0.0.1. */
  listenHost?: string;
  /** Default 0: the OS picks a free port, read it from `address`. */
  listenPort?: number;
  /** Host name or IP of the target; a name is resolved once at start. */
  targetHost: string;
  targetPort: number;
  /** A profile object or the name of a built-in profile (see profiles.ts). */
  profile: LinkProfile | string;
  /** Seed for loss and jitter draws; the same seed and traffic give the same drops. Default 1. */
  seed?: number;
  /** Default: a silent logger. */
  logger?: Logger;
  /** Time source for the link model and the relay's timers; default the system clock. */
  clock?: Clock;
  /** UDP only: idle time before a flow's socket is garbage-collected; default 10 minutes. */
  flowGcIdleMs?: number;
}

/** One blackhole window, relative to the emulator's start. */
export interface ScheduledBlackhole {
  atMs: number;
  durationMs: number;
  direction: BlackholeDirection;
}

export interface EmulatorStats {
  backend: 'relay';
  protocol: EmulatorProtocol;
  profile: string;
  /** Description of how TCP loss is emulated; for UDP a note that loss drops whole datagrams. */
  tcpLossModel: string;
  up: DirectionStats;
  down: DirectionStats;
  blackhole: Record<LinkSide, boolean>;
  /** Open UDP flows (NAT mappings) or TCP connections. */
  activeFlows: number;
}

const UDP_LOSS_MODEL = 'not applicable: protocol is udp, where loss drops whole datagrams';

export class LinkEmulator {
  private currentProfile: LinkProfile;
  private readonly blackholes: BlackholeControl;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly protocol: EmulatorProtocol,
    private readonly relay: Relay,
    profile: LinkProfile,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.currentProfile = profile;
    this.blackholes = new BlackholeControl(clock, logger, clock.now(), (side, on) => relay.setBlackhole(side, on));
  }

  /**
   * Starts a relay listening on `listenHost:listenPort` that forwards to the target through the
   * profile. Throws ConfigError for an invalid option or profile (an unknown profile name lists
   * the valid ones) and EmulatorError when the port cannot be bound.
   */
  static async start(options: LinkEmulatorOptions): Promise<LinkEmulator> {
    if (options.protocol !== 'tcp' && options.protocol !== 'udp') {
      throw new ConfigError(`protocol must be "tcp" or "udp", got ${JSON.stringify(options.protocol)}`);
    }
    for (const [name, port] of [['listenPort', options.listenPort ?? 0], ['targetPort', options.targetPort]] as const) {
      if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new ConfigError(`${name} must be an integer 0..65535, got ${String(port)}`);
    }
    const profile = resolveProfile(options.profile);
    // Parse trace files now, so a bad trace fails here with its line number and binds nothing.
    preloadProfileTraces(profile);
    const clock = options.clock ?? systemClock;
    const logger = (options.logger ?? silentLogger()).child({ component: 'link-emulator', protocol: options.protocol });
    const targetHost = isIP(options.targetHost) !== 0 ? options.targetHost : (await lookup(options.targetHost)).address;
    const relayOptions = {
      listenHost: options.listenHost ?? '127.0.0.1',
      listenPort: options.listenPort ?? 0,
      targetHost,
      targetPort: options.targetPort,
      profile,
      seed: options.seed ?? 1,
      logger,
      clock,
    };

    let relay: Relay;
    try {
      relay =
        options.protocol === 'udp'
          ? await UdpRelay.start({ ...relayOptions, ...(options.flowGcIdleMs === undefined ? {} : { flowGcIdleMs: options.flowGcIdleMs }) })
          : await TcpRelay.start(relayOptions);
    } catch (error) {
      if (error instanceof PushlabError) throw error;
      throw new EmulatorError('listen-failed', `link emulator cannot listen on ${relayOptions.listenHost}:${relayOptions.listenPort}`, { cause: error });
    }

    const emulator = new LinkEmulator(options.protocol, relay, profile, clock, logger);
    logger.info({ address: relay.address, target: `${targetHost}:${options.targetPort}`, profile: profile.name, seed: relayOptions.seed }, 'link emulator started');
    return emulator;
  }

  /** Address and port that clients connect to. */
  get address(): { host: string; port: number } {
    return this.relay.address;
  }

  get profile(): LinkProfile {
    return this.currentProfile;
  }

  /** Switches to another profile at once; units already scheduled keep their delivery times. */
  setProfile(profile: LinkProfile | string): void {
    const resolved = resolveProfile(profile);
    // A bad trace must fail before either direction changes.
    preloadProfileTraces(resolved);
    this.relay.setProfile(resolved);
    this.currentProfile = resolved;
    this.logger.info({ profile: resolved.name, up: resolved.up, down: resolved.down, natIdleTimeoutMs: resolved.natIdleTimeoutMs }, 'link profile changed');
  }

  /**
   * Silently drops the link in `direction` until restore(). UDP datagrams are dropped; TCP data,
   * FIN and RST are held (reading pauses past the queue limit) and flow when it ends. Cancels
   * a pending timed restore of the same direction.
   */
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
   * Moves every UDP flow to a new upstream socket, so the target receives from new source ports
   * as after an address change. For TCP it throws EmulatorError (kind 'unsupported').
   */
  rebind(): void {
    this.relay.rebind();
  }

  stats(): EmulatorStats {
    const relayStats = this.relay.stats();
    return {
      backend: 'relay',
      protocol: this.protocol,
      profile: this.currentProfile.name,
      tcpLossModel: this.protocol === 'tcp' ? TCP_LOSS_MODEL : UDP_LOSS_MODEL,
      up: relayStats.up,
      down: relayStats.down,
      blackhole: { up: this.relay.isBlackholed('up'), down: this.relay.isBlackholed('down') },
      activeFlows: relayStats.activeFlows,
    };
  }

  /** Returns one line for logs and reports: backend, protocol, profile and how loss is emulated. */
  describe(): string {
    const address = this.address;
    const lossModel = this.protocol === 'tcp' ? TCP_LOSS_MODEL : 'UDP loss drops whole datagrams';
    return `relay link emulator (${this.protocol}) on ${address.host}:${address.port}, profile ${this.currentProfile.name} (${this.currentProfile.description}); ${lossModel}`;
  }

  /** Closes the listening socket and every relayed flow; returns within about two seconds. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.blackholes.cancelAll();
    await this.relay.close();
    this.logger.info('link emulator stopped');
  }
}
