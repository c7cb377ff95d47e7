// One relayed TCP connection: the accepted client socket, the socket dialled to the target, the
// two pipes between them and the emulated NAT state.
import net, { type Socket } from 'node:net';
import type { TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import { TcpPipe, type TcpPipeContext } from './tcp-pipe.js';
import type { LinkSide } from './relay-types.js';

/** Services a connection uses from its relay. */
export interface TcpConnectionHost {
  readonly targetHost: string;
  readonly targetPort: number;
  /** Source address for the target connection; undefined lets the OS choose. */
  readonly sourceHost: string | undefined;
  readonly logger: Logger;
  pipeContext(side: LinkSide, onDelivered: () => void): TcpPipeContext;
  isBlackholed(side: LinkSide): boolean;
  natIdleTimeoutMs(): number | undefined;
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Called once both sockets are gone. */
  onDisposed(connection: TcpConnection): void;
}

export class TcpConnection {
  private target: Socket | undefined;
  private readonly up: TcpPipe;
  private readonly down: TcpPipe;
  private readonly logger: Logger;
  private lastActivityMs: number;
  private natTimer: TimerHandle | undefined;
  private dead = false;
  private disposed = false;
  private closing = false;

  constructor(
    readonly id: number,
    private readonly host: TcpConnectionHost,
    private readonly client: Socket,
  ) {
    this.logger = host.logger.child({ connection: id });
    this.lastActivityMs = host.now();
    const touch = (): void => {
      this.lastActivityMs = this.host.now();
    };
    this.up = new TcpPipe(host.pipeContext('up', touch));
    this.down = new TcpPipe(host.pipeContext('down', touch));

    client.setNoDelay(true);
    this.up.attachSource(client);
    this.down.attachDest(client);
    client.on('error', (error) => this.logger.debug({ err: error }, 'client socket failed'));
    client.on('close', () => this.onSocketClosed(client, this.up));

    // A SYN sent into an upstream blackhole never reaches the target, so the dial waits until
    // the blackhole ends. The client's connection is accepted and stalls meanwhile.
    if (!host.isBlackholed('up')) this.dial();
    this.armNatTimer();
  }

  /** Called by the relay whenever a blackhole ends. */
  onBlackholeEnded(): void {
    if (this.dead || this.disposed) return;
    if (this.target === undefined && !this.host.isBlackholed('up')) this.dial();
    this.up.release();
    this.down.release();
    this.disposeIfDone();
  }

  /** Called by the relay when the profile's NAT timeout changes. */
  onNatTimeoutChanged(): void {
    this.natTimer?.cancel();
    this.natTimer = undefined;
    this.armNatTimer();
  }

  /** Destroys both sockets at once (relay shutdown). */
  destroy(): void {
    this.closing = true;
    this.client.destroy();
    this.target?.destroy();
    this.dispose();
  }

  private dial(): void {
    const options: net.NetConnectOpts = { host: this.host.targetHost, port: this.host.targetPort, allowHalfOpen: true };
    if (this.host.sourceHost !== undefined) options.localAddress = this.host.sourceHost;
    const target = net.connect(options);
    this.target = target;
    target.setNoDelay(true);
    this.up.attachDest(target);
    this.down.attachSource(target);
    target.on('connect', () => this.logger.debug('target connected'));
    target.on('error', (error) => this.logger.debug({ err: error }, 'target socket failed'));
    target.on('close', () => this.onSocketClosed(target, this.down));
  }

  /**
   * Handles a fully closed socket. Without a FIN before it (RST, error, failed connect) the pipe
   * it feeds carries an abort to the other side, behind any data still on its way.
   */
  private onSocketClosed(socket: Socket, feeds: TcpPipe): void {
    if (!this.closing && socket.readableEnded === false) feeds.onSourceAborted();
    this.disposeIfDone();
  }

  private disposeIfDone(): void {
    if (!this.client.destroyed) return;
    if (this.target !== undefined && !this.target.destroyed) return;
    // Data the client sent before a dial that a blackhole postponed must still reach the target.
    if (this.target === undefined && this.up.holding && !this.dead) return;
    this.dispose();
  }

  private dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.natTimer?.cancel();
    this.up.dispose();
    this.down.dispose();
    this.host.onDisposed(this);
  }

  private armNatTimer(): void {
    const timeoutMs = this.host.natIdleTimeoutMs();
    if (timeoutMs === undefined || this.dead || this.disposed) return;
    const dueInMs = this.lastActivityMs + timeoutMs - this.host.now();
    this.natTimer = this.host.setTimeout(() => {
      this.natTimer = undefined;
      const current = this.host.natIdleTimeoutMs();
      if (current === undefined) return;
      if (this.host.now() - this.lastActivityMs >= current) this.die(current);
      else this.armNatTimer();
    }, Math.max(1, Math.ceil(dueInMs)));
  }

  private die(timeoutMs: number): void {
    this.dead = true;
    this.up.kill();
    this.down.kill();
    this.logger.info({ natIdleTimeoutMs: timeoutMs }, 'tcp connection idle past the NAT timeout: dropping its data silently from now on');
    this.disposeIfDone();
  }
}
