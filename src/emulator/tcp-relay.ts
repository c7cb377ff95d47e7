// TCP relay: accepts client connections and opens one connection to the target for each. Both
// directions share one link model per direction (one bottleneck, like a real access link).
//
// Caveats of relaying a byte stream instead of packets:
// - Loss is not packet-level. A chunk drawn as lost arrives one retransmission timeout late, and
//   every later chunk waits behind it (head-of-line blocking). The timeout is estimated as
//   max(200 ms, 2 x base RTT): 200 ms is Linux's minimum RTO (TCP_RTO_MIN), lower than the 1 s
//   floor of RFC 6298 section 2.4. The sockets never see a lost segment, so the endpoints'
//   congestion control does not react.
// - The queue limit is backpressure: reading from the sender pauses while the bottleneck's
//   backlog, or the bytes held during a blackhole, exceed it.
// - A blackhole keeps data, FIN and RST back silently until it ends.
// - A NAT timeout (no data either way for natIdleTimeoutMs) kills the connection silently for good.
import net from 'node:net';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { seededRandom } from '../random.js';
import { EmulatorError } from './errors.js';
import { LinkDirection, type LinkDirectionConfig } from './link-model.js';
import type { LinkProfile } from './profiles.js';
import {
  DirectionCounters,
  directionSeed,
  loopbackSourceFor,
  type LinkSide,
  type Relay,
  type RelayOptions,
  type RelayStats,
} from './relay-types.js';
import { TcpConnection, type TcpConnectionHost } from './tcp-connection.js';
import type { TcpPipeContext } from './tcp-pipe.js';

/** Linux's minimum retransmission timeout (TCP_RTO_MIN), the floor of the emulated delay. */
const MIN_RETRANSMISSION_TIMEOUT_MS = 200;
/** How long close() waits for the listening socket before giving up. */
const CLOSE_TIMEOUT_MS = 2_000;

/** States how this relay shows TCP loss; reported in stats() and describe(). */
export const TCP_LOSS_MODEL =
  'TCP loss is not packet-level in relay mode: a chunk drawn as lost is delivered one retransmission timeout ' +
  '(max(200 ms, 2 x base RTT)) late, later chunks wait behind it, and the byte stream stays complete and in order';

/** Returns the delay a "lost" chunk gets: one retransmission timeout for the profile's base RTT. */
export function retransmissionDelayMs(profile: LinkProfile): number {
  return Math.max(MIN_RETRANSMISSION_TIMEOUT_MS, 2 * (profile.up.delayMs + profile.down.delayMs));
}

/** Derives the model config for a byte stream: no tail drop (the relay applies backpressure) and no reordering. */
function streamConfig(config: LinkDirectionConfig): LinkDirectionConfig {
  const { queueLimitBytes: _queueLimit, reorder: _reorder, ...rest } = config;
  return rest;
}

export class TcpRelay implements Relay {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly links: Record<LinkSide, LinkDirection>;
  private readonly counters = { up: new DirectionCounters('chunk'), down: new DirectionCounters('chunk') };
  private readonly blackholed: Record<LinkSide, boolean> = { up: false, down: false };
  private readonly connections = new Set<TcpConnection>();
  private readonly connectionHost: TcpConnectionHost;
  private profile: LinkProfile;
  private nextConnectionId = 1;
  private closed = false;

  private constructor(
    private readonly options: RelayOptions,
    private readonly server: net.Server,
  ) {
    this.clock = options.clock;
    this.logger = options.logger;
    this.profile = options.profile;
    const now = this.clock.now();
    const makeLink = (side: LinkSide): LinkDirection => {
      const link = new LinkDirection(streamConfig(options.profile[side]), {
        random: seededRandom(directionSeed(options.seed, side)),
        startMs: now,
        keepOrder: true,
      });
      link.setLossAsDelay(retransmissionDelayMs(options.profile));
      return link;
    };
    this.links = { up: makeLink('up'), down: makeLink('down') };
    this.connectionHost = this.createConnectionHost();
    server.on('connection', (socket) => this.onConnection(socket));
    server.on('error', (error) => this.logger.warn({ err: error }, 'tcp relay server failed'));
  }

  /** Starts listening. `options.targetHost` should be an IP literal. */
  static async start(options: RelayOptions): Promise<TcpRelay> {
    const server = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.listenPort, options.listenHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    try {
      return new TcpRelay(options, server);
    } catch (error) {
      server.close();
      throw error;
    }
  }

  get address(): { host: string; port: number } {
    const bound = this.server.address() as net.AddressInfo;
    return { host: bound.address, port: bound.port };
  }

  setProfile(profile: LinkProfile): void {
    this.profile = profile;
    for (const side of ['up', 'down'] as const) {
      this.links[side].setConfig(streamConfig(profile[side]));
      this.links[side].setLossAsDelay(retransmissionDelayMs(profile));
    }
    for (const connection of this.connections) connection.onNatTimeoutChanged();
  }

  setBlackhole(side: LinkSide, on: boolean): void {
    this.blackholed[side] = on;
    if (on) return;
    for (const connection of [...this.connections]) connection.onBlackholeEnded();
  }

  isBlackholed(side: LinkSide): boolean {
    return this.blackholed[side];
  }

  /** Throws EmulatorError, because a TCP connection cannot move to a new source port. */
  rebind(): never {
    throw new EmulatorError('unsupported', 'rebind() is supported only for protocol "udp"; a TCP connection cannot change its source port');
  }

  stats(): RelayStats {
    return {
      up: this.counters.up.snapshot(this.links.up),
      down: this.counters.down.snapshot(this.links.down),
      activeFlows: this.connections.size,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const connection of [...this.connections]) connection.destroy();
    // The bound is wall-clock time even when an injected clock drives the link model.
    let timer: NodeJS.Timeout | undefined;
    const closedServer = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.logger.warn({ timeoutMs: CLOSE_TIMEOUT_MS }, 'tcp relay server did not close in time');
        resolve();
      }, CLOSE_TIMEOUT_MS);
    });
    await Promise.race([closedServer, timedOut]);
    clearTimeout(timer);
  }

  private onConnection(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const connection = new TcpConnection(this.nextConnectionId++, this.connectionHost, socket);
    this.connections.add(connection);
    this.logger.debug({ connection: connection.id, client: `${socket.remoteAddress}|${socket.remotePort}` }, 'tcp connection accepted');
  }

  private createConnectionHost(): TcpConnectionHost {
    return {
      targetHost: this.options.targetHost,
      targetPort: this.options.targetPort,
      sourceHost: loopbackSourceFor(this.options.targetHost),
      logger: this.logger,
      pipeContext: (side, onDelivered): TcpPipeContext => ({
        clock: this.clock,
        logger: this.logger,
        link: this.links[side],
        counters: this.counters[side],
        isBlackholed: () => this.blackholed[side],
        queueLimitBytes: () => this.profile[side].queueLimitBytes,
        onDelivered,
      }),
      isBlackholed: (side) => this.blackholed[side],
      natIdleTimeoutMs: () => this.profile.natIdleTimeoutMs,
      now: () => this.clock.now(),
      setTimeout: (callback, delayMs) => this.clock.setTimeout(callback, delayMs),
      onDisposed: (connection) => {
        this.connections.delete(connection);
        this.logger.debug({ connection: connection.id }, 'tcp connection closed');
      },
    };
  }
}
