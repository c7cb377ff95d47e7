// Settings of the QUIC transport (ListenOptions.settings / DialOptions.settings) and their mapping
// to the @matrixai/quic configuration.
//
// The library's own defaults suit a peer-to-peer node, not a push gateway: no idle timeout (a
// vanished peer is never noticed), no keep-alive, 10 MiB connection and 1 MiB stream flow-control
// windows, and 100 concurrent streams of each kind. The defaults here bound each session instead.
import { ConfigError } from '../../src/errors.js';

export interface QuicSettings {
  /**
   * Idle timeout in ms (RFC 9000 section 10.1); the connection closes after this long without any
   * packet from the peer. The smaller of both endpoints' values applies. Never 0 here, because the
   * library reads 0 as "no timeout".
   */
  maxIdleTimeoutMs: number;
  /** Interval in ms of ack-eliciting PINGs that keep the path and NAT bindings alive; 0 turns them off. */
  keepAliveIntervalMs: number;
  /** Upper bound in ms for a dial, including the retry round trip and the TLS handshake. */
  connectTimeoutMs: number;
  /** Upper bound in ms for close() to wait for the peer to finish the stream before it drops the connection. */
  closeTimeoutMs: number;
  /** ALPN protocol ids offered by the client and accepted by the server, in preference order. */
  alpnProtocols: string[];
  /** Negotiate QUIC DATAGRAM frames (RFC 9221) for sendUnreliable(). */
  datagrams: boolean;
  /** Bytes queued above which the connection reports itself congested. */
  highWaterMark: number;
  /** Connection-level flow-control window in bytes that this endpoint grants the peer. */
  initialMaxData: number;
  /** Per-stream flow-control window in bytes that this endpoint grants the peer. */
  initialMaxStreamData: number;
  /** Size in bytes of the buffer each stream reads into; one read never returns more. */
  readableChunkSize: number;
  /** Ask the peer not to migrate actively (RFC 9000 section 18.2); NAT rebinding still works. */
  disableActiveMigration: boolean;
  /** Kernel receive and send buffer size of the UDP socket in bytes (capped by net.core.rmem_max/wmem_max). */
  udpBufferBytes: number;
  /** Local address the client binds; by default the loopback address for a loopback target, else the wildcard. */
  localHost: string | undefined;
}

export const DEFAULT_ALPN = 'pushlab/1';

/** Defaults shared by both roles; keep-alive differs and is set by quicSettings(). */
const DEFAULTS: Omit<QuicSettings, 'keepAliveIntervalMs' | 'localHost'> = {
  maxIdleTimeoutMs: 60_000,
  connectTimeoutMs: 10_000,
  closeTimeoutMs: 2_000,
  alpnProtocols: [DEFAULT_ALPN],
  datagrams: true,
  highWaterMark: 256 * 1024,
  // A session carries small pushes; 64 KiB keeps a 1 MiB transfer fast on loopback while capping the
  // unread data a slow peer can park on the server. See docs/QUIC.md for the memory measurements.
  initialMaxData: 128 * 1024,
  initialMaxStreamData: 64 * 1024,
  // Each stream allocates this buffer once and keeps it; below 4 KiB Node takes it from its shared
  // 8 KiB Buffer pool. 1 KiB measured 5.9 KiB of external memory per idle session against 20.5 KiB
  // for 16 KiB, with no measurable loss of loopback throughput (docs/QUIC.md).
  readableChunkSize: 1024,
  disableActiveMigration: true,
  // Kernel buffers are charged only while datagrams wait in them, so an idle socket costs nothing.
  udpBufferBytes: 2 * 1024 * 1024,
};

/**
 * The client pings by default because mobile clients sit behind NATs whose UDP bindings often
 * expire after 30 s. The server does not, so a server with many idle clients sends nothing.
 */
const CLIENT_KEEP_ALIVE_MS = 20_000;

export type QuicRole = 'client' | 'server';

export function quicSettings(role: QuicRole, raw: Record<string, unknown> | undefined): QuicSettings {
  const input = raw ?? {};
  const settings: QuicSettings = {
    maxIdleTimeoutMs: positiveInteger(input, 'maxIdleTimeoutMs', DEFAULTS.maxIdleTimeoutMs),
    keepAliveIntervalMs: nonNegativeInteger(input, 'keepAliveIntervalMs', role === 'client' ? CLIENT_KEEP_ALIVE_MS : 0),
    connectTimeoutMs: positiveInteger(input, 'connectTimeoutMs', DEFAULTS.connectTimeoutMs),
    closeTimeoutMs: positiveInteger(input, 'closeTimeoutMs', DEFAULTS.closeTimeoutMs),
    alpnProtocols: stringList(input, 'alpnProtocols', DEFAULTS.alpnProtocols),
    datagrams: boolean(input, 'datagrams', DEFAULTS.datagrams),
    highWaterMark: positiveInteger(input, 'highWaterMark', DEFAULTS.highWaterMark),
    initialMaxData: positiveInteger(input, 'initialMaxData', DEFAULTS.initialMaxData),
    initialMaxStreamData: positiveInteger(input, 'initialMaxStreamData', DEFAULTS.initialMaxStreamData),
    readableChunkSize: positiveInteger(input, 'readableChunkSize', DEFAULTS.readableChunkSize),
    disableActiveMigration: boolean(input, 'disableActiveMigration', DEFAULTS.disableActiveMigration),
    udpBufferBytes: positiveInteger(input, 'udpBufferBytes', DEFAULTS.udpBufferBytes),
    localHost: optionalString(input, 'localHost'),
  };
  // A keep-alive at or above the idle timeout cannot keep anything alive; the library rejects it too.
  if (settings.keepAliveIntervalMs >= settings.maxIdleTimeoutMs) {
    if (input.keepAliveIntervalMs !== undefined) {
      throw new ConfigError(`quic settings: keepAliveIntervalMs (${settings.keepAliveIntervalMs}) must be below maxIdleTimeoutMs (${settings.maxIdleTimeoutMs}), or 0 to turn keep-alive off`);
    }
    settings.keepAliveIntervalMs = Math.floor(settings.maxIdleTimeoutMs / 3);
  }
  if (settings.initialMaxData < settings.initialMaxStreamData) {
    throw new ConfigError(`quic settings: initialMaxData (${settings.initialMaxData}) must be at least initialMaxStreamData (${settings.initialMaxStreamData})`);
  }
  return settings;
}

function positiveInteger(input: Record<string, unknown>, key: string, fallback: number): number {
  const value = input[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(`quic settings: ${key} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function nonNegativeInteger(input: Record<string, unknown>, key: string, fallback: number): number {
  const value = input[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ConfigError(`quic settings: ${key} must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function boolean(input: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const value = input[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ConfigError(`quic settings: ${key} must be a boolean, got ${JSON.stringify(value)}`);
  return value;
}

function optionalString(input: Record<string, unknown>, key: string): string | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw new ConfigError(`quic settings: ${key} must be a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

function stringList(input: Record<string, unknown>, key: string, fallback: string[]): string[] {
  const value = input[key];
  if (value === undefined) return fallback;
  // RFC 7301 section 3.1: a protocol id is 1 to 255 bytes.
  const valid = Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string' && item.length > 0 && Buffer.byteLength(item) <= 255);
  if (!valid) throw new ConfigError(`quic settings: ${key} must be a non-empty list of 1 to 255 byte strings`);
  return [...(value as string[])];
}
