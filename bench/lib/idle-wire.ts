// Bytes that idle sessions put on the wire: a gateway child with its default heartbeat, PushClients
// in this process, and a LinkEmulator relay with the `lan` profile (no delay, no loss) between them
// that counts what it forwards. Over UDP the relay counts whole datagrams (UDP payload: the QUIC
// packets). Over TCP it counts the byte stream (TLS records) but cannot count TCP/IP headers or
// pure ACK segments, so the report estimates those.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { PushClient } from '../../src/client/client.js';
import { LinkEmulator, type DirectionStats } from '../../src/emulator/index.js';
import { HmacTokenAuthority } from '../../src/gateway/auth.js';
import { GATEWAY_DEFAULTS } from '../../src/gateway/options.js';
import { builtinTransports } from '../../transports/index.js';
import { connectPushClients, deviceRefs } from './clients.js';
import type { GatewayCommands, TlsFiles } from './protocol.js';
import { sleep } from './report.js';
import { BenchChild } from './rpc.js';

const GATEWAY_CHILD = fileURLToPath(new URL('../gateway-child.ts', import.meta.url));
const MS_PER_HOUR = 3_600_000;
/** Time after the last welcome before the window opens, so handshake traffic is over. */
const SETTLE_MS = 2_000;

/** IPv4 (20) + UDP (8) header bytes per datagram. */
export const IPV4_UDP_HEADER_BYTES = 28;
/** IPv4 (20) + TCP with the timestamp option (32) header bytes per segment, as Linux sends by default. */
export const IPV4_TCP_HEADER_BYTES = 52;

export interface IdleWireOptions {
  transport: 'quic' | 'tcp';
  sessions: number;
  windowMs: number;
  tls: TlsFiles;
}

export interface IdleWireResult {
  transport: string;
  sessions: number;
  windowMs: number;
  heartbeat: { intervalMs: number; timeoutMs: number };
  /** Units the relay forwarded per session and hour, client to gateway (up) and back (down). */
  upUnitsPerHour: number;
  downUnitsPerHour: number;
  /** Payload bytes the relay forwarded per session and hour (UDP payload, or TLS bytes over TCP). */
  upBytesPerHour: number;
  downBytesPerHour: number;
  /** Ping and pong frame bodies per session and hour, from the clients' own counters. */
  heartbeatFrameBytesPerHour: number;
  /** Sessions still connected at the end of the window, and reconnects during it (both should be sessions and 0). */
  connectedAtEnd: number;
  reconnects: number;
}

function delta(after: DirectionStats, before: DirectionStats): { units: number; bytes: number } {
  return { units: after.forwardedUnits - before.forwardedUnits, bytes: after.forwardedBytes - before.forwardedBytes };
}

/**
 * Connects `sessions` PushClients through a counting relay, lets them idle for `windowMs` with the
 * gateway's default heartbeat, and scales what crossed the relay to one session-hour.
 */
export async function measureIdleWire(options: IdleWireOptions): Promise<IdleWireResult> {
  const heartbeat = GATEWAY_DEFAULTS.heartbeat;
  const child = BenchChild.spawn<GatewayCommands>(`wire-${options.transport}`, GATEWAY_CHILD);
  const secret = randomBytes(32);
  let link: LinkEmulator | null = null;
  let clients: PushClient[] = [];
  try {
    const { port, clientSettings } = await child.request('start', {
      ...options.tls,
      secret: secret.toString('hex'),
      coalescing: true,
      heartbeatIntervalMs: heartbeat.intervalMs,
      heartbeatTimeoutMs: heartbeat.timeoutMs,
      transport: options.transport,
    });
    const transport = builtinTransports().create(options.transport);
    link = await LinkEmulator.start({ protocol: transport.ipProtocol, targetHost: '127.0.0.1', targetPort: port, profile: 'lan' });
    clients = await connectPushClients({
      port: link.address.port,
      ca: options.tls.cert,
      devices: deviceRefs(options.sessions, 'wire'),
      authority: new HmacTokenAuthority(secret),
      transport,
      ...(clientSettings === undefined ? {} : { transportSettings: clientSettings }),
    });
    await sleep(SETTLE_MS);

    const heartbeatBytes = (): number => clients.reduce((sum, client) => sum + client.stats.heartbeatBytes, 0);
    const reconnects = (): number => clients.reduce((sum, client) => sum + client.stats.reconnects, 0);
    const before = { stats: link.stats(), heartbeatBytes: heartbeatBytes(), reconnects: reconnects() };
    await sleep(options.windowMs);
    const after = { stats: link.stats(), heartbeatBytes: heartbeatBytes(), reconnects: reconnects() };

    const perSessionHour = (value: number): number => (value / options.sessions) * (MS_PER_HOUR / options.windowMs);
    const up = delta(after.stats.up, before.stats.up);
    const down = delta(after.stats.down, before.stats.down);
    return {
      transport: options.transport,
      sessions: options.sessions,
      windowMs: options.windowMs,
      heartbeat,
      upUnitsPerHour: perSessionHour(up.units),
      downUnitsPerHour: perSessionHour(down.units),
      upBytesPerHour: perSessionHour(up.bytes),
      downBytesPerHour: perSessionHour(down.bytes),
      heartbeatFrameBytesPerHour: perSessionHour(after.heartbeatBytes - before.heartbeatBytes),
      connectedAtEnd: clients.filter((client) => client.state.kind === 'connected').length,
      reconnects: after.reconnects - before.reconnects,
    };
  } finally {
    for (const client of clients) client.close();
    await link?.close();
    await child.stop();
  }
}
