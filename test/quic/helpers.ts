// Shared fixtures of the QUIC transport tests: TLS material, a listener with an accept queue,
// connection event recorders, a UDP relay that counts and re-routes datagrams, and a watcher for
// uncaught exceptions and unhandled rejections.
import dgram from 'node:dgram';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { createSelfSignedCertificate, type SelfSignedCertificate } from '../../src/tls/self-signed.js';
import { silentLogger } from '../../src/logger.js';
import type { ConnectionCloseInfo, TransportConnection } from '../../src/transport/types.js';
import { QuicTransport, type QuicConnection, type QuicListener } from '../../transports/quic/index.js';

export const MAX_FRAME_SIZE = 64 * 1024;
export const logger = silentLogger();

let certificate: Promise<SelfSignedCertificate> | undefined;
/** One self-signed certificate (DNS SAN localhost, IP SANs 127.0.0.1 and ::1) per test file. */
export function tlsMaterial(): Promise<SelfSignedCertificate> {
  certificate ??= createSelfSignedCertificate();
  return certificate;
}

/** Records every event of a connection and lets a test wait for them. */
export class Recorder<Connection extends TransportConnection = TransportConnection> {
  readonly frames: Uint8Array[] = [];
  readonly errors: Error[] = [];
  drains = 0;
  closeInfo: ConnectionCloseInfo | null = null;
  private waiters: Array<() => void> = [];

  constructor(readonly connection: Connection) {
    connection.setHandler({
      onFrame: (frame) => this.record(() => this.frames.push(frame)),
      onError: (error) => this.record(() => this.errors.push(error)),
      onDrain: () => this.record(() => (this.drains += 1)),
      onClose: (info) => this.record(() => (this.closeInfo = info)),
    });
  }

  /** Resolves when `condition` holds; rejects after `timeoutMs`, naming `what`. */
  until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      // Conditions may also depend on state outside this recorder, so they are polled as well.
      const poll = setInterval(() => check(), 20);
      const timer = setTimeout(() => {
        clearInterval(poll);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} on ${this.connection.id}`));
      }, timeoutMs);
      const check = (): void => {
        if (!condition()) return;
        clearTimeout(timer);
        clearInterval(poll);
        this.waiters = this.waiters.filter((waiter) => waiter !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  frameCount(count: number, timeoutMs?: number): Promise<void> {
    return this.until(() => this.frames.length >= count, `${count} frames (have ${this.frames.length})`, timeoutMs);
  }

  closed(timeoutMs?: number): Promise<ConnectionCloseInfo> {
    return this.until(() => this.closeInfo !== null, 'onClose', timeoutMs).then(() => this.closeInfo!);
  }

  private record(apply: () => void): void {
    apply();
    for (const waiter of [...this.waiters]) waiter();
  }
}

export interface ServerHarness {
  transport: QuicTransport;
  listener: QuicListener;
  port: number;
  /** Server-side recorders in accept order. */
  accepted: Recorder[];
  nextAccepted(timeoutMs?: number): Promise<Recorder>;
}

export async function startServer(settings: Record<string, unknown> = {}, maxFrameSize = MAX_FRAME_SIZE): Promise<ServerHarness> {
  const tls = await tlsMaterial();
  const transport = new QuicTransport();
  const accepted: Recorder[] = [];
  let notify: (() => void) | null = null;
  const listener = (await transport.listen({ host: '127.0.0.1', port: 0, maxFrameSize, tls: { cert: tls.cert, key: tls.key }, logger, settings }, (connection) => {
    accepted.push(new Recorder(connection));
    notify?.();
  })) as QuicListener;
  let taken = 0;
  const nextAccepted = async (timeoutMs = 5_000): Promise<Recorder> => {
    const deadline = Date.now() + timeoutMs;
    while (accepted.length <= taken) {
      if (Date.now() > deadline) throw new Error(`no connection accepted within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        notify = resolve;
        setTimeout(resolve, 50);
      });
    }
    return accepted[taken++]!;
  };
  return { transport, listener, port: listener.address.port, accepted, nextAccepted };
}

export async function dialClient(port: number, settings: Record<string, unknown> = {}, options: { maxFrameSize?: number; serverName?: string; signal?: AbortSignal; ca?: string } = {}): Promise<QuicConnection> {
  const tls = await tlsMaterial();
  const transport = new QuicTransport();
  const connection = await transport.dial({
    host: '127.0.0.1',
    port,
    maxFrameSize: options.maxFrameSize ?? MAX_FRAME_SIZE,
    tls: { ca: options.ca ?? tls.cert, ...(options.serverName ? { serverName: options.serverName } : {}) },
    logger,
    settings,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return connection as QuicConnection;
}

/** Fails the test file if any uncaught exception or unhandled rejection happened during a test. */
export function watchProcessFaults(): void {
  const faults: unknown[] = [];
  const onFault = (error: unknown): void => {
    faults.push(error);
  };
  beforeAll(() => {
    process.on('uncaughtException', onFault);
    process.on('unhandledRejection', onFault);
  });
  afterEach(() => {
    expect(faults, 'uncaught exceptions or unhandled rejections').toEqual([]);
  });
  afterAll(() => {
    process.off('uncaughtException', onFault);
    process.off('unhandledRejection', onFault);
  });
}

/** QUIC long-header packet types of version 1 (RFC 9000 section 17.2), from the first byte. */
export function longHeaderType(datagram: Buffer): 'initial' | '0rtt' | 'handshake' | 'retry' | 'short' {
  const first = datagram[0] ?? 0;
  if ((first & 0x80) === 0) return 'short';
  return (['initial', '0rtt', 'handshake', 'retry'] as const)[(first & 0x30) >> 4]!;
}

/**
 * A UDP relay between one client and a server on loopback. It records the datagrams in both
 * directions, can drop them, and can switch its upstream socket so the server sees the client at
 * a new source port, as after a NAT rebinding.
 */
export class UdpRelay {
  readonly toServer: Buffer[] = [];
  readonly toClient: Buffer[] = [];
  /** How many client datagrams had passed when the server's first datagram came back. */
  sentBeforeFirstReply: number | null = null;
  dropping = false;
  private client: dgram.RemoteInfo | null = null;
  private upstream!: dgram.Socket;
  private readonly retired: dgram.Socket[] = [];
  private readonly downstream = dgram.createSocket('udp4');

  private constructor(private readonly serverPort: number) {}

  static async start(serverPort: number): Promise<UdpRelay> {
    const relay = new UdpRelay(serverPort);
    relay.downstream.on('message', (datagram, from) => {
      relay.client = from;
      relay.toServer.push(datagram);
      if (!relay.dropping) relay.upstream.send(datagram, relay.serverPort, '127.0.0.1');
    });
    await bind(relay.downstream);
    relay.upstream = await relay.openUpstream();
    return relay;
  }

  get port(): number {
    return this.downstream.address().port;
  }

  /** The source port of the client's packets as the server receives them now. */
  get upstreamPort(): number {
    return this.upstream.address().port;
  }

  /** Sends the client's traffic from a new socket from now on; replies to the old one still pass. */
  async rebind(): Promise<void> {
    this.retired.push(this.upstream);
    this.upstream = await this.openUpstream();
  }

  async close(): Promise<void> {
    for (const socket of [this.downstream, this.upstream, ...this.retired]) {
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    }
  }

  private async openUpstream(): Promise<dgram.Socket> {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (datagram) => {
      this.sentBeforeFirstReply ??= this.toServer.length;
      this.toClient.push(datagram);
      if (this.dropping || this.client === null) return;
      this.downstream.send(datagram, this.client.port, this.client.address);
    });
    await bind(socket);
    return socket;
  }
}

function bind(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
}

/** Deterministic bytes for frame payloads. */
export function payload(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let index = 0; index < length; index += 1) bytes[index] = (seed * 31 + index * 7) & 0xff;
  return bytes;
}

/** Views a received frame as a Buffer, so it compares equal to a payload() of the same bytes. */
export function bytes(frame: Uint8Array | undefined): Buffer {
  if (frame === undefined) return Buffer.alloc(0);
  return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
}
