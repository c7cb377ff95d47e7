// Options of the Gateway class, and their defaults. Config files and CLI flags are translated into
// this shape by src/config; library users build it directly.
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { TransportRegistry } from '../transport/registry.js';
import type { TlsServerMaterial } from '../transport/types.js';
import type { CoalescingOptions } from '../session/coalescer.js';
import type { UpstreamHandler } from './upstream.js';
import type { SessionPlacement } from '../routing/placement.js';

export interface TokenVerifier {
  /** Returns normally when `token` is valid for this user and device now; throws AuthError otherwise. */
  verify(token: string, expected: { userId: string; deviceId: string }): unknown;
}

export interface GatewayListenerConfig {
  /** A name in the transport registry, e.g. "tcp". */
  transport: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  settings?: Record<string, unknown>;
}

export interface HeartbeatConfig {
  /** The client pings after this much send silence. */
  intervalMs: number;
  /** Grace on top of the interval: silence longer than interval + timeout means the peer is dead. */
  timeoutMs: number;
}

export interface GatewayOptions {
  registry: TransportRegistry;
  listeners: GatewayListenerConfig[];
  /** Needed by TLS-based transports (tcp, quic, webtransport). */
  tls?: TlsServerMaterial;
  authenticator: TokenVerifier;
  heartbeat?: HeartbeatConfig;
  /** Largest frame accepted or sent, in bytes; default 64 KiB. */
  maxFrameSize?: number;
  /** Time allowed between accept and a valid hello; default 10 s. */
  handshakeTimeoutMs?: number;
  coalescing?: Partial<CoalescingOptions>;
  /** Maximum unacknowledged pushes in flight per session before the send queue holds them; default 256. */
  sendWindow?: number;
  /** Unacked messages kept per device; older ones are dropped and reported as a gap on resume. Default 10000. */
  inboxLimit?: number;
  onUpstream?: UpstreamHandler;
  /** Multi-process mode: which process owns a user, and how to reach it. Single process when absent. */
  placement?: SessionPlacement;
  clock?: Clock;
  logger?: Logger;
  metrics?: GatewayMetrics;
}

export const GATEWAY_DEFAULTS = {
  heartbeat: { intervalMs: 30_000, timeoutMs: 15_000 } satisfies HeartbeatConfig,
  maxFrameSize: 64 * 1024,
  handshakeTimeoutMs: 10_000,
  sendWindow: 256,
  inboxLimit: 10_000,
} as const;
