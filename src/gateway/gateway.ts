// The gateway: listens on the configured transports, turns authenticated hellos into sessions,
// and accepts publishes for devices. Usable as a library; the CLI wraps it.
import { systemClock, type Clock } from '../clock.js';
import { encodeFrame } from '../codec/frame-codec.js';
import { CloseCode, Priority, ResumeStatus, type Hello, type Publish } from '../codec/proto.js';
import { ConfigError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { LocalRouter } from '../routing/local-router.js';
import type { MessageRouter, RoutedMessage } from '../routing/router.js';
import { sendCloseAndEnd } from '../session/close.js';
import { COALESCING_DEFAULTS, type CoalescingOptions } from '../session/coalescer.js';
import type { TransportAddress, TransportConnection, TransportListener } from '../transport/types.js';
import { DeviceRegistry } from './device-registry.js';
import { toRoutedMessage } from './routed-message.js';
import { awaitHello } from './handshake.js';
import { GATEWAY_DEFAULTS, type GatewayOptions, type HeartbeatConfig } from './options.js';
import { ServerSession } from './server-session.js';
import type { HealthReport, PublishRequest, PublishResult, PublishTarget } from './types.js';

export class Gateway implements PublishTarget {
  readonly metrics: GatewayMetrics;
  readonly devices: DeviceRegistry<ServerSession>;
  private readonly transportListeners: TransportListener[] = [];
  private readonly router: MessageRouter;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly heartbeat: HeartbeatConfig;
  private readonly coalescing: CoalescingOptions;
  private readonly maxFrameSize: number;
  private readonly startedAt: number;
  private readonly sessions = new Set<ServerSession>();
  private closing = false;

  private constructor(private readonly options: GatewayOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? silentLogger()).child({ component: 'gateway' });
    this.metrics = options.metrics ?? new GatewayMetrics();
    this.heartbeat = options.heartbeat ?? GATEWAY_DEFAULTS.heartbeat;
    this.coalescing = { ...COALESCING_DEFAULTS, ...options.coalescing };
    this.maxFrameSize = options.maxFrameSize ?? GATEWAY_DEFAULTS.maxFrameSize;
    this.devices = new DeviceRegistry<ServerSession>(options.inboxLimit ?? GATEWAY_DEFAULTS.inboxLimit);
    this.router = new LocalRouter(this.devices, this.metrics);
    this.startedAt = this.clock.now();
    this.metrics.addCounterSource(() =>
      this.transportListeners.filter((l) => l.counters !== undefined).map((l) => ({ transport: l.transport, counters: l.counters! })),
    );
  }

  static async start(options: GatewayOptions): Promise<Gateway> {
    if (options.listeners.length === 0) throw new ConfigError('gateway needs at least one listener');
    const gateway = new Gateway(options);
    try {
      for (const config of options.listeners) await gateway.listen(config);
    } catch (error) {
      await gateway.close();
      throw error;
    }
    return gateway;
  }

  /**
   * The running listeners. clientSettings are read from each listener on every access, so they
   * follow certificate rotation.
   */
  get listeners(): { transport: string; address: TransportAddress; clientSettings?: Record<string, unknown> }[] {
    return this.transportListeners.map((listener) => ({ transport: listener.transport, address: listener.address, clientSettings: listener.clientSettings }));
  }

  /** Live sessions across all transports. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  async publish(request: PublishRequest): Promise<PublishResult> {
    const message = toRoutedMessage(request, this.maxFrameSize, this.clock.now());
    return this.routeMessage(message);
  }

  /** Delivers an already stamped message: here when this process owns the user, else through the owner. */
  routeMessage(message: RoutedMessage): Promise<PublishResult> {
    const placement = this.options.placement;
    if (placement && !placement.owns(message.userId)) return placement.route(message);
    return this.router.route(message);
  }

  /**
   * Admits a connection whose hello another process already read and authenticated (multi-process
   * mode hands connections to the process that owns the user). Refusals close the connection.
   */
  adoptConnection(connection: TransportConnection, hello: Hello): void {
    const refusal = this.admitHere(connection, hello);
    if (refusal === null) return;
    this.metrics.handshakes.inc({ transport: connection.transport, outcome: refusal === CloseCode.STALE_ATTEMPT ? 'stale_attempt' : 'protocol_error' });
    sendCloseAndEnd(connection, refusal, refusal === CloseCode.STALE_ATTEMPT ? 'a newer connection attempt from this client already holds the session' : 'session refused');
  }

  health(): HealthReport {
    return {
      status: this.closing ? 'draining' : 'ok',
      sessions: this.sessions.size,
      listeners: this.listeners.map((l) => ({ transport: l.transport, host: l.address.host, port: l.address.port })),
      uptimeSeconds: Math.round((this.clock.now() - this.startedAt) / 1000),
    };
  }

  /** Closes every session with GOING_AWAY and stops all listeners. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const session of [...this.sessions]) session.close(CloseCode.GOING_AWAY, 'gateway shutting down');
    await Promise.all(this.transportListeners.map((listener) => listener.close()));
    this.logger.info('gateway stopped');
  }

  private async listen(config: GatewayOptions['listeners'][number]): Promise<void> {
    const transport = this.options.registry.create(config.transport);
    const listener = await transport.listen(
      {
        host: config.host,
        port: config.port,
        maxFrameSize: this.maxFrameSize,
        tls: this.options.tls,
        logger: this.logger.child({ transport: config.transport }),
        settings: config.settings,
      },
      (connection) => this.accept(connection),
    );
    this.transportListeners.push(listener);
    this.logger.info({ transport: config.transport, address: listener.address }, 'listening');
  }

  private accept(connection: TransportConnection): void {
    if (this.closing) {
      connection.destroy();
      return;
    }
    awaitHello(connection, {
      authenticator: this.options.authenticator,
      handshakeTimeoutMs: this.options.handshakeTimeoutMs ?? GATEWAY_DEFAULTS.handshakeTimeoutMs,
      clock: this.clock,
      logger: this.logger,
      metrics: this.metrics,
      admit: (conn, hello) => this.admit(conn, hello),
    });
  }

  private admit(connection: TransportConnection, hello: Hello): CloseCode | null {
    const placement = this.options.placement;
    if (placement && !placement.owns(hello.userId ?? '')) {
      placement.handOff(connection, hello);
      return null;
    }
    return this.admitHere(connection, hello);
  }

  private admitHere(connection: TransportConnection, hello: Hello): CloseCode | null {
    const result = this.devices.admit(hello);
    if (result.kind === 'stale') return CloseCode.STALE_ATTEMPT;
    const { device, epoch, resumed, missing, replayAfter, replaced } = result;
    replaced?.close(CloseCode.SESSION_REPLACED, `replaced by epoch ${epoch}`);

    const session = new ServerSession({
      connection,
      device,
      epoch,
      heartbeat: this.heartbeat,
      sendWindow: this.options.sendWindow ?? GATEWAY_DEFAULTS.sendWindow,
      coalescing: this.coalescing,
      clock: this.clock,
      logger: this.logger,
      metrics: this.metrics,
      applyUpstream: (s, publish) => this.applyUpstream(s, publish),
      onClosed: (s) => {
        this.sessions.delete(s);
        if (device.live === s) device.live = null;
      },
    });
    device.live = session;
    this.sessions.add(session);

    if (resumed) {
      // The resume position is an implicit cumulative ack. The device has every message up to it,
      // even if its ack for the last of those messages was lost with the old connection.
      const acked = device.inbox.ack(replayAfter);
      if (acked.length > 0) this.metrics.pushesAcked.inc({ transport: connection.transport }, acked.length);
    }
    const replay = device.inbox.pendingAfter(replayAfter);
    let status: ResumeStatus = ResumeStatus.NEW;
    if (resumed) status = missing ? ResumeStatus.GAP : ResumeStatus.RESUMED;
    this.metrics.resumes.inc({ transport: connection.transport, outcome: ResumeStatus[status]!.toLowerCase() });
    session.sendControl(
      encodeFrame({
        welcome: {
          sessionId: device.sessionId,
          epoch,
          heartbeat: { intervalMs: this.heartbeat.intervalMs, timeoutMs: this.heartbeat.timeoutMs },
          resume: { status, missingFrom: missing?.from ?? 0, missingTo: missing?.to ?? 0, replayCount: replay.length },
          maxFrameSize: this.maxFrameSize,
          upstreamApplied: device.upstream.appliedThrough,
          inboxBase: resumed ? 0 : device.inbox.base,
        },
      }),
    );
    session.start(replay);
    return null;
  }

  private async applyUpstream(session: ServerSession, publish: Publish): Promise<{ messageId?: string } | void> {
    const device = session.device;
    const event = {
      userId: device.userId,
      deviceId: device.deviceId,
      sessionId: session.sessionId,
      clientSeq: Number(publish.clientSeq),
      toUserId: publish.toUserId ?? '',
      payload: publish.payload ?? new Uint8Array(),
      priority: publish.priority ?? Priority.PRIORITY_NORMAL,
    };
    if (this.options.onUpstream) return this.options.onUpstream(event);
    if (event.toUserId) {
      // Without a handler, a publish addressed to a user is relayed to that user's devices, with an
      // id derived from (session, client seq) so a retried publish cannot be delivered twice.
      const result = await this.publish({
        userId: event.toUserId,
        payload: event.payload,
        priority: event.priority === Priority.PRIORITY_HIGH ? 'high' : 'normal',
        messageId: `${event.sessionId}:${event.clientSeq}`,
      });
      return { messageId: result.messageId };
    }
    return undefined;
  }
}
