// TCP transport: TLS 1.3 by default, plain TCP when `settings.plain` is true (experiments only).
// Frames travel as varint length prefix + body; see src/codec/stream-decoder.ts.
import net from 'node:net';
import tls from 'node:tls';
import { BaseConnection } from '../../src/transport/base-connection.js';
import { StreamFrameDecoder } from '../../src/codec/stream-decoder.js';
import { lengthPrefixed } from '../../src/codec/frame-codec.js';
import { TransportError, toError } from '../../src/errors.js';
import type { DialOptions, ListenOptions, Transport, TransportConnection, TransportListener } from '../../src/transport/types.js';

/** How long a closing listener lets its connections flush before destroying them. */
const LISTENER_CLOSE_GRACE_MS = 1_000;

/** Above this many unsent bytes the connection reports itself congested. */
const HIGH_WATER_MARK = 256 * 1024;

export interface TcpSettings {
  /** Plain TCP without TLS. For experiments that isolate transport behaviour; never in production. */
  plain?: boolean;
  /** Disable Nagle's algorithm; default true because pushes are small and latency-sensitive. */
  noDelay?: boolean;
}

function readSettings(settings: Record<string, unknown> | undefined): Required<TcpSettings> {
  return { plain: settings?.plain === true, noDelay: settings?.noDelay !== false };
}

class TcpConnection extends BaseConnection {
  private readonly decoder: StreamFrameDecoder;

  constructor(
    transport: string,
    private readonly socket: net.Socket,
    maxFrameSize: number,
  ) {
    super(transport, `${socket.remoteAddress}:${socket.remotePort}`, maxFrameSize);
    this.decoder = new StreamFrameDecoder(maxFrameSize);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.emitDrain());
    socket.on('error', (error) => this.emitClose({ error }));
    socket.on('close', () => this.emitClose());
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  get congested(): boolean {
    return this.socket.writableLength > HIGH_WATER_MARK;
  }

  send(frame: Uint8Array): void {
    if (this.closed || this.socket.destroyed || !this.socket.writable) return;
    const bytes = lengthPrefixed(frame);
    this.stats.bytesSent += bytes.length;
    this.stats.writes += 1;
    this.socket.write(bytes);
  }

  close(): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    // A peer that never reads would keep a half-closed socket forever; cap the flush time.
    setTimeout(() => this.socket.destroy(), 2_000).unref();
  }

  destroy(): void {
    this.socket.destroy();
    this.emitClose();
  }

  private onData(chunk: Buffer): void {
    let frames: Uint8Array[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      // The stream position is lost: stop reading and let the session close with the right code.
      this.socket.pause();
      this.emitError(toError(error));
      return;
    }
    for (const frame of frames) this.emitFrame(frame);
  }
}

export class TcpTransport implements Transport {
  readonly kind = 'stream' as const;
  readonly ipProtocol = 'tcp' as const;
  readonly secure: boolean;

  constructor(readonly name: string = 'tcp', private readonly defaults: TcpSettings = {}) {
    this.secure = defaults.plain !== true;
  }

  async listen(options: ListenOptions, onConnection: (connection: TransportConnection) => void): Promise<TransportListener> {
    const settings = readSettings({ ...this.defaults, ...options.settings });
    const sockets = new Set<net.Socket>();
    const accept = (socket: net.Socket): void => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.setNoDelay(settings.noDelay);
      onConnection(new TcpConnection(this.name, socket, options.maxFrameSize));
    };

    let server: net.Server;
    if (settings.plain) {
      server = net.createServer(accept);
    } else {
      if (!options.tls) throw new TransportError('TRANSPORT_FAILED', `transport "${this.name}" needs TLS material (cert and key) unless settings.plain is true`);
      server = tls.createServer({ cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.3' }, accept);
      server.on('tlsClientError', (error, socket) => {
        options.logger.debug({ err: error, remote: socket.remoteAddress }, 'TLS handshake failed');
      });
    }
    server.on('error', (error) => options.logger.error({ err: error }, 'TCP listener error'));

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address() as net.AddressInfo;
    return {
      transport: this.name,
      address: { host: bound.address, port: bound.port },
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          // End gracefully so close frames already written (GOING_AWAY) reach the peers, then
          // destroy whatever is still open after a short grace period.
          for (const socket of sockets) socket.end();
          const deadline = setTimeout(() => {
            for (const socket of sockets) socket.destroy();
          }, LISTENER_CLOSE_GRACE_MS);
          deadline.unref();
        }),
    };
  }

  dial(options: DialOptions): Promise<TransportConnection> {
    const settings = readSettings({ ...this.defaults, ...options.settings });
    return new Promise((resolve, reject) => {
      const readyEvent = settings.plain ? 'connect' : 'secureConnect';
      const socket = settings.plain
        ? net.connect({ host: options.host, port: options.port })
        : tls.connect({
            host: options.host,
            port: options.port,
            ca: options.tls?.ca,
            servername: options.tls?.serverName ?? (net.isIP(options.host) ? 'localhost' : options.host),
            minVersion: 'TLSv1.3',
          });
      const fail = (error: Error): void => {
        socket.destroy();
        reject(new TransportError('TRANSPORT_FAILED', `${this.name} dial to ${options.host}:${options.port} failed: ${error.message}`, { cause: error }));
      };
      const onAbort = (): void => fail(new Error('dial aborted'));
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', fail);
      socket.once(readyEvent, () => {
        options.signal?.removeEventListener('abort', onAbort);
        socket.off('error', fail);
        socket.setNoDelay(settings.noDelay);
        resolve(new TcpConnection(this.name, socket, options.maxFrameSize));
      });
    });
  }
}
