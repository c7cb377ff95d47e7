// Settings of the UDP transport, read from ListenOptions.settings / DialOptions.settings.
// docs/UDP.md lists every key with its unit, default and the reason for the default.
import type { KeyObject } from 'node:crypto';
import { systemClock, type Clock } from '../../src/clock.js';
import { ConfigError } from '../../src/errors.js';
import { MAX_DATAGRAM_SIZE } from './packet.js';

export type DuplicateMode = 'off' | 'auto' | 'always';

export interface UdpSettings {
  /** Server only: the static X25519 private key (32 raw bytes, base64/base64url text, or a KeyObject). */
  staticPrivateKey?: Uint8Array | string | KeyObject;
  /** Client only: the pinned static X25519 public key of the server (32 raw bytes or base64/base64url). */
  serverPublicKey?: Uint8Array | string;
  /** Client: give up the handshake after this long. Server: drop a half-open connection after this long. */
  handshakeTimeoutMs?: number;
  /** First handshake retransmission delay; later ones grow by 1.5x up to handshakeMaxRetryMs. */
  handshakeRetryMs?: number;
  handshakeMaxRetryMs?: number;
  /** Close the connection when no authenticated datagram arrived for this long; 0 disables. */
  idleTimeoutMs?: number;
  /** Close the connection when the oldest unacknowledged frame fragment waited this long; 0 disables. */
  deliveryTimeoutMs?: number;
  /** Close the connection when received data waited this long behind a missing fragment; 0 disables. */
  reassemblyTimeoutMs?: number;
  /** Retransmission timeout before the first RTT sample (RFC 6298 section 2.1 uses 1 s). */
  initialRtoMs?: number;
  /** Lower bound of the retransmission timeout (RFC 6298 section 2.4 uses 1 s). */
  minRtoMs?: number;
  /** Upper bound of the backed-off retransmission timeout (RFC 6298 section 5.5 back-off cap). */
  maxRtoMs?: number;
  /** Maximum time a receiver delays an ACK. */
  maxAckDelayMs?: number;
  /** Frame fragments in flight (sent, not acknowledged) at most; also the advertised receive window. */
  windowSegments?: number;
  /** bufferedAmount above which the connection reports itself congested. */
  highWaterMark?: number;
  /** Send small fragments twice: never, when the loss estimate is high, or always. */
  duplicateSmallFrames?: DuplicateMode;
  /** Largest fragment payload (bytes) that duplicate sending applies to. */
  duplicateMaxBytes?: number;
  /** Loss estimate (0..1) above which 'auto' duplicate sending switches on; it switches off below half. */
  duplicateLossThreshold?: number;
  /** Time close() waits for unacknowledged frames before it closes anyway. */
  closeFlushTimeoutMs?: number;
  /** Server: handshake load (half-open plus INITs this second) from which an INIT must carry a cookie; 0 = always. */
  cookieThreshold?: number;
  /** Server: half-open handshakes at most; INITs beyond it are dropped. */
  maxHalfOpen?: number;
  /** SO_RCVBUF and SO_SNDBUF of the transport's sockets; the kernel caps it (net.core.rmem_max / wmem_max on Linux). */
  socketBufferBytes?: number;
  /** Time source for every timer; tests may pass a VirtualClock. */
  clock?: Clock;
}

export interface ResolvedUdpSettings {
  staticPrivateKey: Uint8Array | string | KeyObject | undefined;
  serverPublicKey: Uint8Array | string | undefined;
  handshakeTimeoutMs: number;
  handshakeRetryMs: number;
  handshakeMaxRetryMs: number;
  idleTimeoutMs: number;
  deliveryTimeoutMs: number;
  reassemblyTimeoutMs: number;
  initialRtoMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  maxAckDelayMs: number;
  windowSegments: number;
  highWaterMark: number;
  duplicateSmallFrames: DuplicateMode;
  duplicateMaxBytes: number;
  duplicateLossThreshold: number;
  closeFlushTimeoutMs: number;
  cookieThreshold: number;
  maxHalfOpen: number;
  socketBufferBytes: number;
  clock: Clock;
}

export const DEFAULT_UDP_SETTINGS: Omit<ResolvedUdpSettings, 'staticPrivateKey' | 'serverPublicKey' | 'clock'> = {
  handshakeTimeoutMs: 10_000,
  handshakeRetryMs: 250,
  handshakeMaxRetryMs: 1_000,
  idleTimeoutMs: 300_000,
  deliveryTimeoutMs: 60_000,
  reassemblyTimeoutMs: 60_000,
  initialRtoMs: 500,
  minRtoMs: 150,
  maxRtoMs: 3_000,
  maxAckDelayMs: 10,
  windowSegments: 256,
  highWaterMark: 256 * 1024,
  duplicateSmallFrames: 'auto',
  duplicateMaxBytes: 256,
  duplicateLossThreshold: 0.15,
  closeFlushTimeoutMs: 2_000,
  cookieThreshold: 256,
  maxHalfOpen: 4_096,
  socketBufferBytes: 1024 * 1024,
};

type NumberKey = {
  [K in keyof ResolvedUdpSettings]: ResolvedUdpSettings[K] extends number ? K : never;
}[keyof ResolvedUdpSettings];

function readNumber(settings: Record<string, unknown>, key: NumberKey, min: number, max: number): number {
  const value = settings[key];
  if (value === undefined) return DEFAULT_UDP_SETTINGS[key];
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(`udp setting "${key}" must be a number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** Validates the settings record and fills in defaults; invalid values raise ConfigError. */
export function resolveUdpSettings(settings: Record<string, unknown> | undefined): ResolvedUdpSettings {
  const raw = settings ?? {};
  const duplicate = raw.duplicateSmallFrames ?? DEFAULT_UDP_SETTINGS.duplicateSmallFrames;
  if (duplicate !== 'off' && duplicate !== 'auto' && duplicate !== 'always') {
    throw new ConfigError(`udp setting "duplicateSmallFrames" must be "off", "auto" or "always", got ${String(duplicate)}`);
  }
  const clock = raw.clock ?? systemClock;
  if (typeof (clock as Clock).now !== 'function' || typeof (clock as Clock).setTimeout !== 'function') {
    throw new ConfigError('udp setting "clock" must implement Clock (now, setTimeout)');
  }
  const resolved: ResolvedUdpSettings = {
    staticPrivateKey: raw.staticPrivateKey as ResolvedUdpSettings['staticPrivateKey'],
    serverPublicKey: raw.serverPublicKey as ResolvedUdpSettings['serverPublicKey'],
    handshakeTimeoutMs: readNumber(raw, 'handshakeTimeoutMs', 1, 600_000),
    handshakeRetryMs: readNumber(raw, 'handshakeRetryMs', 1, 60_000),
    handshakeMaxRetryMs: readNumber(raw, 'handshakeMaxRetryMs', 1, 600_000),
    idleTimeoutMs: readNumber(raw, 'idleTimeoutMs', 0, 86_400_000),
    deliveryTimeoutMs: readNumber(raw, 'deliveryTimeoutMs', 0, 86_400_000),
    reassemblyTimeoutMs: readNumber(raw, 'reassemblyTimeoutMs', 0, 86_400_000),
    initialRtoMs: readNumber(raw, 'initialRtoMs', 1, 60_000),
    minRtoMs: readNumber(raw, 'minRtoMs', 1, 60_000),
    maxRtoMs: readNumber(raw, 'maxRtoMs', 1, 600_000),
    maxAckDelayMs: readNumber(raw, 'maxAckDelayMs', 0, 1_000),
    windowSegments: readNumber(raw, 'windowSegments', 1, 65_535),
    highWaterMark: readNumber(raw, 'highWaterMark', 1, 2 ** 31),
    duplicateSmallFrames: duplicate,
    duplicateMaxBytes: readNumber(raw, 'duplicateMaxBytes', 0, MAX_DATAGRAM_SIZE),
    duplicateLossThreshold: readNumber(raw, 'duplicateLossThreshold', 0, 1),
    closeFlushTimeoutMs: readNumber(raw, 'closeFlushTimeoutMs', 0, 600_000),
    cookieThreshold: readNumber(raw, 'cookieThreshold', 0, 1_000_000),
    maxHalfOpen: readNumber(raw, 'maxHalfOpen', 1, 1_000_000),
    socketBufferBytes: readNumber(raw, 'socketBufferBytes', 4096, 2 ** 30),
    clock: clock as Clock,
  };
  if (resolved.minRtoMs > resolved.maxRtoMs) {
    throw new ConfigError(`udp setting "minRtoMs" (${resolved.minRtoMs}) must not exceed "maxRtoMs" (${resolved.maxRtoMs})`);
  }
  if (!Number.isInteger(resolved.windowSegments)) {
    throw new ConfigError(`udp setting "windowSegments" must be an integer, got ${resolved.windowSegments}`);
  }
  return resolved;
}
