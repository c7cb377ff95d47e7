// The load side of the benchmarks, run in the bench process: pushlab clients over any transport,
// raw clients for the baseline server, and raw TLS clients that open a session and then stay silent.
import tls from 'node:tls';
import { PushClient } from '../../src/client/client.js';
import { lengthPrefixed } from '../../src/codec/frame-codec.js';
import { StreamFrameDecoder } from '../../src/codec/stream-decoder.js';
import type { HmacTokenAuthority } from '../../src/gateway/auth.js';
import type { Transport } from '../../src/transport/types.js';
import { TcpTransport } from '../../transports/tcp/index.js';
import { BASELINE_ACK_BYTES, type DeviceRef } from './protocol.js';

const HOST = '127.0.0.1';
/** Connections opened at once; more would only queue in the listen backlog and the TLS handshakes. */
const DIAL_CONCURRENCY = 100;

/**
 * Runs `task` for 0..count-1 with at most `concurrency` in progress. After the first failure no new
 * task starts. The first error is thrown once the running tasks have settled, so a caller's cleanup
 * can reach every resource the tasks created.
 */
export async function forEachLimited(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const failures: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (failures.length === 0 && next < count) {
      const index = next++;
      try {
        await task(index);
      } catch (error) {
        failures.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (failures.length > 0) throw failures[0];
}

export function deviceRefs(count: number, prefix: string): DeviceRef[] {
  return Array.from({ length: count }, (_, i) => ({ userId: `${prefix}-user-${i}`, deviceId: 'phone' }));
}

/**
 * Connects one PushClient per device and resolves when every one has its welcome. `transport`
 * defaults to TCP + TLS; `transportSettings` are the listener's client settings, if it has any.
 */
export async function connectPushClients(options: {
  port: number;
  ca: string;
  devices: DeviceRef[];
  authority: HmacTokenAuthority;
  transport?: Transport;
  transportSettings?: Record<string, unknown>;
}): Promise<PushClient[]> {
  const transport = options.transport ?? new TcpTransport('tcp');
  const clients: PushClient[] = [];
  await forEachLimited(options.devices.length, DIAL_CONCURRENCY, async (i) => {
    const device = options.devices[i]!;
    const client = new PushClient({
      transport,
      host: HOST,
      port: options.port,
      tls: { ca: options.ca, serverName: 'localhost' },
      ...(options.transportSettings === undefined ? {} : { transportSettings: options.transportSettings }),
      userId: device.userId,
      deviceId: device.deviceId,
      token: options.authority.issue({ ...device, ttlMs: 3_600_000 }),
      connectTimeoutMs: 20_000,
    });
    clients.push(client);
    await client.connect();
  }).catch((error: unknown) => {
    for (const client of clients) client.close();
    throw error;
  });
  return clients;
}

function dialTls(port: number, ca: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: HOST, port, ca, servername: 'localhost', minVersion: 'TLSv1.3' });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`TLS dial to ${HOST}:${port} timed out after 20 s`));
    }, 20_000);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

/**
 * Connects raw clients to the baseline push server. Each counts complete messages and, after every
 * read, acks the cumulative count, as a PushClient acks once per event-loop turn.
 */
export async function connectBaselineClients(options: { port: number; ca: string; count: number }): Promise<tls.TLSSocket[]> {
  const sockets: tls.TLSSocket[] = [];
  await forEachLimited(options.count, DIAL_CONCURRENCY, async () => {
    const socket = await dialTls(options.port, options.ca);
    const decoder = new StreamFrameDecoder(64 * 1024);
    const ack = Buffer.alloc(BASELINE_ACK_BYTES);
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      const before = received;
      received += decoder.push(chunk).length;
      if (received === before) return;
      ack.writeUInt32BE(received % 0x1_0000_0000, 0);
      socket.write(lengthPrefixed(ack));
    });
    socket.on('error', () => socket.destroy());
    sockets.push(socket);
  }).catch(async (error: unknown) => {
    await destroyAll(sockets);
    throw error;
  });
  return sockets;
}

/**
 * Opens `count` TLS connections that each send `firstFrame(i)` and wait for one complete
 * length-prefixed frame back (`check` may reject it); then they stay silent. Raw sockets instead of
 * PushClients keep the bench process's own memory and CPU small at 10k connections.
 */
export async function openIdleConnections(options: {
  port: number;
  ca: string;
  count: number;
  firstFrame(index: number): Uint8Array;
  check?(frame: Uint8Array): void;
}): Promise<tls.TLSSocket[]> {
  const sockets: tls.TLSSocket[] = [];
  await forEachLimited(options.count, DIAL_CONCURRENCY, async (i) => {
    const socket = await dialTls(options.port, options.ca);
    sockets.push(socket);
    const reply = await new Promise<Uint8Array>((resolve, reject) => {
      const decoder = new StreamFrameDecoder(64 * 1024);
      const settle = (error: Error | null, frame?: Uint8Array): void => {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('close', onClose);
        if (error) reject(error);
        else resolve(frame!);
      };
      const timer = setTimeout(() => settle(new Error(`connection ${i} got no reply within 20 s`)), 20_000);
      const onData = (chunk: Buffer): void => {
        const frames = decoder.push(chunk);
        if (frames.length > 0) settle(null, frames[0]);
      };
      const onClose = (): void => settle(new Error(`connection ${i} closed before its reply`));
      socket.on('data', onData);
      socket.once('close', onClose);
      socket.write(lengthPrefixed(options.firstFrame(i)));
    });
    options.check?.(reply);
    // Keep reading so a late frame (a close, say) is consumed rather than left in kernel buffers.
    socket.on('data', () => {});
    socket.on('error', () => socket.destroy());
  }).catch(async (error: unknown) => {
    await destroyAll(sockets);
    throw error;
  });
  return sockets;
}

/** Destroys sockets and waits (bounded) until they are closed. */
export async function destroyAll(sockets: tls.TLSSocket[], timeoutMs = 10_000): Promise<void> {
  const closed = sockets.map((socket) => (socket.closed ? Promise.resolve() : new Promise<void>((resolve) => socket.once('close', () => resolve()))));
  for (const socket of sockets) socket.destroy();
  await Promise.race([Promise.all(closed), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
}
