// Shared setup for the UDP transport tests: a listener with a fresh static key, an optional lossy
// relay in front of it, and a recorder of connection events.
import { silentLogger } from '../../src/logger.js';
import type { ConnectionCloseInfo, TransportConnection } from '../../src/transport/types.js';
import { generateUdpKeyPair, UdpTransport, type UdpConnection, type UdpListener, type UdpSettings } from '../../transports/udp/index.js';
import { LossyRelay } from './lossy-relay.js';

export const HOST = '127.0.0.1';

export interface PairOptions {
  maxFrameSize?: number;
  clientMaxFrameSize?: number;
  listenSettings?: UdpSettings;
  dialSettings?: UdpSettings;
  /** Puts a seeded lossy relay between client and server. */
  relay?: { seed: number; lossToServer?: number; lossToClient?: number; record?: boolean };
}

export interface Pair {
  transport: UdpTransport;
  /** The server's static key pair (base64url), for dialing a second client. */
  keys: { privateKey: string; publicKey: string };
  listener: UdpListener;
  client: UdpConnection;
  server: UdpConnection;
  relay: LossyRelay | null;
  clientEvents: Recorder;
  serverEvents: Recorder;
  close(): Promise<void>;
}

/** Collects everything a connection reports, with waits bounded in time. */
export class Recorder {
  readonly frames: Buffer[] = [];
  readonly errors: Error[] = [];
  drains = 0;
  closeInfo: ConnectionCloseInfo | null = null;
  private waiters: (() => void)[] = [];

  constructor(connection: TransportConnection) {
    connection.setHandler({
      onFrame: (frame) => this.push(() => this.frames.push(Buffer.from(frame))),
      onError: (error) => this.push(() => this.errors.push(error)),
      onDrain: () => this.push(() => (this.drains += 1)),
      onClose: (info) => this.push(() => (this.closeInfo = info)),
    });
  }

  /** Resolves once `condition` holds; rejects after `timeoutMs` with `what` in the message. */
  until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const check = (): void => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  framesAsText(): string[] {
    return this.frames.map((frame) => frame.toString('utf8'));
  }

  private push(record: () => void): void {
    record();
    for (const waiter of [...this.waiters]) waiter();
  }
}

export async function startPair(options: PairOptions = {}): Promise<Pair> {
  const keys = generateUdpKeyPair();
  const transport = new UdpTransport();
  const accepted: UdpConnection[] = [];
  let notify: (() => void) | null = null;
  const listener = (await transport.listen(
    {
      host: HOST,
      port: 0,
      maxFrameSize: options.maxFrameSize ?? 64 * 1024,
      logger: silentLogger(),
      settings: { staticPrivateKey: keys.privateKey, ...options.listenSettings },
    },
    (connection) => {
      accepted.push(connection as UdpConnection);
      notify?.();
    },
  )) as UdpListener;

  const relay = options.relay ? await LossyRelay.start({ server: { host: HOST, port: listener.address.port }, ...options.relay }) : null;
  const client = (await transport.dial({
    host: HOST,
    port: relay ? relay.port : listener.address.port,
    maxFrameSize: options.clientMaxFrameSize ?? options.maxFrameSize ?? 64 * 1024,
    logger: silentLogger(),
    settings: { serverPublicKey: keys.publicKey, ...options.dialSettings },
  })) as UdpConnection;

  const server = await new Promise<UdpConnection>((resolve, reject) => {
    if (accepted[0]) return resolve(accepted[0]);
    const timer = setTimeout(() => reject(new Error('server did not accept the connection within 10 s')), 10_000);
    notify = () => {
      clearTimeout(timer);
      resolve(accepted[0]!);
    };
  });
  const clientEvents = new Recorder(client);
  const serverEvents = new Recorder(server);
  return {
    transport,
    keys,
    listener,
    client,
    server,
    relay,
    clientEvents,
    serverEvents,
    close: async () => {
      client.destroy();
      await listener.close();
      await relay?.close();
    },
  };
}

export function numbered(prefix: string, count: number, size = 0): Buffer[] {
  return Array.from({ length: count }, (_, i) => {
    const label = Buffer.from(`${prefix}-${i}`);
    return size > label.length ? Buffer.concat([label, Buffer.alloc(size - label.length, 0x2e)]) : label;
  });
}

/** Polls `condition` every 10 ms; rejects after `timeoutMs` naming `what`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
