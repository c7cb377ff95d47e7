// UDP relay: a listening socket for clients and, per client source address, one upstream socket
// towards the target, so the target receives each client's datagrams from its own source port, as
// from behind a NAT.
// Every datagram passes the link model of its direction, so loss, delay, jitter (with
// reordering when the profile allows it), bandwidth and queue drops apply per datagram.
//
// NAT behaviour: a mapping is refreshed only by outbound (client to target) datagrams, the
// minimum RFC 4787 section 4.3 allows (REQ-6: outbound refresh MUST; REQ-6a: inbound MAY). When
// no outbound datagram passed for natIdleTimeoutMs, inbound datagrams are dropped silently and
// the next outbound datagram gets a new upstream socket, so the target sees a new source port.
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import { seededRandom } from '../random.js';
import { DeliveryQueue } from './delivery-queue.js';
import { LinkDirection } from './link-model.js';
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

/** Socket receive buffer; bursts of small datagrams overflow the Linux default of 208 KiB. */
const RECEIVE_BUFFER_BYTES = 1 << 20;
/** Default idle time after which a flow's socket is closed, active or retired. */
export const DEFAULT_FLOW_GC_IDLE_MS = 10 * 60_000;

export interface UdpRelayOptions extends RelayOptions {
  /**
   * Idle time (no datagram either way) after which a flow's upstream socket is closed. A later
   * datagram from that client then opens a new flow with a new source port. Sockets retired by
   * rebind() or NAT expiry are closed this long after retirement. The relay raises it to at least
   * twice the NAT timeout, so garbage collection never hides NAT expiry.
   */
  flowGcIdleMs?: number;
}

interface Flow {
  readonly key: string;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly socket: dgram.Socket;
  lastOutboundMs: number;
  lastActivityMs: number;
  /** Set once the flow is replaced (rebind or NAT expiry); its socket then only drops datagrams. */
  retiredAtMs: number | undefined;
}

interface Outbound {
  key: string;
  clientAddress: string;
  clientPort: number;
  payload: Buffer;
}

interface Inbound {
  clientAddress: string;
  clientPort: number;
  payload: Buffer;
}

export class UdpRelay implements Relay {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly links: Record<LinkSide, LinkDirection>;
  private readonly counters = { up: new DirectionCounters('datagram'), down: new DirectionCounters('datagram') };
  private readonly upQueue: DeliveryQueue<Outbound>;
  private readonly downQueue: DeliveryQueue<Inbound>;
  private readonly flows = new Map<string, Flow>();
  private readonly retired = new Set<Flow>();
  private readonly socketType: 'udp4' | 'udp6';
  private readonly sourceHost: string | undefined;
  private natIdleTimeoutMs: number | undefined;
  private readonly gcIdleOption: number | undefined;
  private sweepTimer: TimerHandle | undefined;
  private closed = false;

  private constructor(
    private readonly options: UdpRelayOptions,
    private readonly listenSocket: dgram.Socket,
  ) {
    this.clock = options.clock;
    this.logger = options.logger;
    const now = this.clock.now();
    this.links = {
      up: new LinkDirection(options.profile.up, { random: seededRandom(directionSeed(options.seed, 'up')), startMs: now }),
      down: new LinkDirection(options.profile.down, { random: seededRandom(directionSeed(options.seed, 'down')), startMs: now }),
    };
    this.natIdleTimeoutMs = options.profile.natIdleTimeoutMs;
    this.gcIdleOption = options.flowGcIdleMs;
    this.socketType = isIPv6(options.targetHost) ? 'udp6' : 'udp4';
    this.sourceHost = loopbackSourceFor(options.targetHost);
    this.upQueue = new DeliveryQueue(this.clock, (item) => this.deliverUp(item));
    this.downQueue = new DeliveryQueue(this.clock, (item) => this.deliverDown(item));
    listenSocket.on('message', (payload, remote) => this.onClientDatagram(payload, remote));
    listenSocket.on('error', (error) => this.logger.warn({ err: error }, 'udp relay listening socket failed'));
    this.armSweep();
  }

  /** Binds the listening socket. `options.targetHost` must be an IP literal. */
  static async start(options: UdpRelayOptions): Promise<UdpRelay> {
    const socket = dgram.createSocket({ type: isIPv6(options.listenHost) ? 'udp6' : 'udp4', recvBufferSize: RECEIVE_BUFFER_BYTES });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port: options.listenPort, address: options.listenHost }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    try {
      return new UdpRelay(options, socket);
    } catch (error) {
      await closeSocket(socket);
      throw error;
    }
  }

  get address(): { host: string; port: number } {
    const bound = this.listenSocket.address();
    return { host: bound.address, port: bound.port };
  }

  setProfile(profile: LinkProfile): void {
    this.links.up.setConfig(profile.up);
    this.links.down.setConfig(profile.down);
    this.natIdleTimeoutMs = profile.natIdleTimeoutMs;
  }

  setBlackhole(side: LinkSide, on: boolean): void {
    this.links[side].setBlackhole(on);
  }

  isBlackholed(side: LinkSide): boolean {
    return this.links[side].blackhole;
  }

  /** Retires every flow, so each client's next datagram reaches the target from a new port. */
  rebind(): void {
    const now = this.clock.now();
    const count = this.flows.size;
    for (const flow of [...this.flows.values()]) this.retire(flow, now);
    this.logger.info({ flows: count }, 'udp relay rebound: the next datagram of each flow uses a new source port');
  }

  stats(): RelayStats {
    return {
      up: this.counters.up.snapshot(this.links.up),
      down: this.counters.down.snapshot(this.links.down),
      activeFlows: this.flows.size,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sweepTimer?.cancel();
    this.upQueue.close();
    this.downQueue.close();
    const sockets = [this.listenSocket, ...[...this.flows.values(), ...this.retired].map((flow) => flow.socket)];
    this.flows.clear();
    this.retired.clear();
    await Promise.all(sockets.map((socket) => closeSocket(socket)));
  }

  private onClientDatagram(payload: Buffer, remote: dgram.RemoteInfo): void {
    const result = this.links.up.schedule(payload.length, this.clock.now());
    if ('drop' in result) return;
    this.upQueue.push(result.deliverAtMs, {
      key: `${remote.address}|${remote.port}`,
      clientAddress: remote.address,
      clientPort: remote.port,
      payload,
    });
  }

  /** Sends a datagram that has crossed the link; the NAT maps it only now, so a lost datagram refreshes nothing. */
  private deliverUp(item: Outbound): void {
    const now = this.clock.now();
    let flow = this.flows.get(item.key);
    if (flow !== undefined && this.natExpired(flow, now)) {
      this.logger.info({ client: item.key }, 'udp nat mapping expired; the next datagram gets a new source port');
      this.retire(flow, now);
      flow = undefined;
    }
    flow ??= this.openFlow(item, now);
    flow.lastOutboundMs = now;
    flow.lastActivityMs = now;
    flow.socket.send(item.payload, this.options.targetPort, this.options.targetHost, (error) => {
      if (error !== null) this.logger.warn({ err: error, client: item.key }, 'udp relay send to target failed');
    });
    this.counters.up.forwarded(item.payload.length);
  }

  private onTargetDatagram(flow: Flow, payload: Buffer, remote: dgram.RemoteInfo): void {
    // Address-dependent filtering: the flow accepts datagrams from the target only.
    if (remote.address !== this.options.targetHost || remote.port !== this.options.targetPort) return;
    const now = this.clock.now();
    if (flow.retiredAtMs === undefined && this.natExpired(flow, now)) this.retire(flow, now);
    if (flow.retiredAtMs !== undefined) {
      this.counters.down.dropped('nat', payload.length);
      return;
    }
    flow.lastActivityMs = now;
    const result = this.links.down.schedule(payload.length, now);
    if ('drop' in result) return;
    this.downQueue.push(result.deliverAtMs, { clientAddress: flow.clientAddress, clientPort: flow.clientPort, payload });
  }

  private deliverDown(item: Inbound): void {
    this.listenSocket.send(item.payload, item.clientPort, item.clientAddress, (error) => {
      if (error !== null) this.logger.warn({ err: error, client: `${item.clientAddress}|${item.clientPort}` }, 'udp relay send to client failed');
    });
    this.counters.down.forwarded(item.payload.length);
  }

  private openFlow(item: Outbound, now: number): Flow {
    const socket = dgram.createSocket({ type: this.socketType, recvBufferSize: RECEIVE_BUFFER_BYTES });
    const flow: Flow = {
      key: item.key,
      clientAddress: item.clientAddress,
      clientPort: item.clientPort,
      socket,
      lastOutboundMs: now,
      lastActivityMs: now,
      retiredAtMs: undefined,
    };
    socket.on('message', (payload, remote) => this.onTargetDatagram(flow, payload, remote));
    socket.on('error', (error) => this.logger.warn({ err: error, client: item.key }, 'udp relay upstream socket failed'));
    // Sends issued before the bind completes are queued by node:dgram until it does.
    socket.bind({ port: 0, ...(this.sourceHost === undefined ? {} : { address: this.sourceHost }) });
    this.flows.set(item.key, flow);
    this.logger.debug({ client: item.key }, 'udp flow opened');
    return flow;
  }

  private natExpired(flow: Flow, now: number): boolean {
    return this.natIdleTimeoutMs !== undefined && now - flow.lastOutboundMs > this.natIdleTimeoutMs;
  }

  /**
   * Takes a flow out of the mapping table. Its socket stays open and drops what arrives until
   * garbage collection, which also keeps the kernel from handing the same port to the new flow.
   */
  private retire(flow: Flow, now: number): void {
    if (this.flows.get(flow.key) === flow) this.flows.delete(flow.key);
    flow.retiredAtMs = now;
    this.retired.add(flow);
  }

  private gcIdleMs(): number {
    const base = this.gcIdleOption ?? DEFAULT_FLOW_GC_IDLE_MS;
    return Math.max(base, 2 * (this.natIdleTimeoutMs ?? 0));
  }

  private armSweep(): void {
    const interval = Math.max(50, Math.min(60_000, this.gcIdleMs() / 2));
    this.sweepTimer = this.clock.setTimeout(() => {
      if (this.closed) return;
      this.sweep();
      this.armSweep();
    }, interval);
  }

  private sweep(): void {
    const now = this.clock.now();
    const idleLimit = this.gcIdleMs();
    let collected = 0;
    for (const flow of [...this.flows.values()]) {
      if (now - flow.lastActivityMs > idleLimit) {
        this.flows.delete(flow.key);
        void closeSocket(flow.socket);
        collected++;
      }
    }
    for (const flow of [...this.retired]) {
      if (now - (flow.retiredAtMs ?? now) > idleLimit) {
        this.retired.delete(flow);
        void closeSocket(flow.socket);
        collected++;
      }
    }
    if (collected > 0) this.logger.debug({ collected }, 'udp flows garbage-collected');
  }
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      // ERR_SOCKET_DGRAM_NOT_RUNNING: already closed.
      resolve();
    }
  });
}
