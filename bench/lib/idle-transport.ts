// Idle sessions through any registered transport, for the memory benchmarks: each connection sends
// a hello, waits for the welcome and then stays silent. Bare transport connections instead of
// PushClients keep the bench process's own memory and timers small at thousands of sessions, and
// they send no heartbeat, so the gateway's heartbeat interval must outlast the measurement.
import { decodeFrame, encodeFrame } from '../../src/codec/frame-codec.js';
import { Platform, PROTOCOL_VERSION } from '../../src/codec/proto.js';
import type { HmacTokenAuthority } from '../../src/gateway/auth.js';
import { silentLogger } from '../../src/logger.js';
import type { Transport, TransportConnection } from '../../src/transport/types.js';
import { forEachLimited } from './clients.js';

const HOST = '127.0.0.1';
const MAX_FRAME_BYTES = 64 * 1024;
const WELCOME_TIMEOUT_MS = 20_000;

export interface IdleSessionOptions {
  transport: Transport;
  port: number;
  /** PEM the client trusts: the gateway's self-signed certificate. */
  ca: string;
  /** The listener's client settings (a pinned key, certificate hashes), if it has any. */
  settings?: Record<string, unknown>;
  count: number;
  /** Dials in progress at once. */
  concurrency: number;
  hello(index: number): Uint8Array;
}

/** Builds the hello of one device, with a token valid for an hour. */
export function helloFrame(authority: HmacTokenAuthority, userId: string, clientInstance: string): Uint8Array {
  return encodeFrame({
    hello: {
      protocolVersion: PROTOCOL_VERSION,
      token: authority.issue({ userId, deviceId: 'phone', ttlMs: 3_600_000 }),
      userId,
      deviceId: 'phone',
      platform: Platform.PLATFORM_ANDROID,
      clientInstance,
      attempt: 1,
    },
  });
}

/** Dials one connection, sends the hello and resolves once the welcome arrived. */
async function openOne(options: IdleSessionOptions, index: number, opened: TransportConnection[]): Promise<void> {
  const connection = await options.transport.dial({
    host: HOST,
    port: options.port,
    maxFrameSize: MAX_FRAME_BYTES,
    tls: { ca: options.ca, serverName: 'localhost' },
    logger: silentLogger(),
    ...(options.settings === undefined ? {} : { settings: options.settings }),
  });
  opened.push(connection);
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (error: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => settle(new Error(`${options.transport.name} session ${index} got no welcome within ${WELCOME_TIMEOUT_MS} ms`)), WELCOME_TIMEOUT_MS);
    connection.setHandler({
      onFrame: (frame) => {
        if (settled) return;
        const body = decodeFrame(frame).body;
        settle(body === 'welcome' ? null : new Error(`${options.transport.name} session ${index}: expected a welcome after the hello, got ${body}`));
      },
      onError: (error) => settle(error),
      onDrain: () => {},
      onClose: (info) => settle(info.error ?? new Error(`${options.transport.name} session ${index} closed before its welcome`)),
    });
    connection.send(options.hello(index));
  });
}

/**
 * Opens `count` idle sessions. On a failure it destroys every connection it opened and throws the
 * first error.
 */
export async function openIdleTransportSessions(options: IdleSessionOptions): Promise<TransportConnection[]> {
  const opened: TransportConnection[] = [];
  await forEachLimited(options.count, options.concurrency, (index) => openOne(options, index, opened)).catch((error: unknown) => {
    destroyConnections(opened);
    throw error;
  });
  return opened;
}

/** Drops every connection without flushing, which ends its session on the gateway. */
export function destroyConnections(connections: TransportConnection[]): void {
  for (const connection of connections) connection.destroy();
}
