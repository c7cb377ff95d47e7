// The gateway configuration as read from a JSON file and CLI flags, and its defaults. docs/CONFIG.md
// documents every key; keep the two in step.
import { DEFAULT_LEEWAY_MS } from '../gateway/auth.js';
import { DEFAULT_MAX_BODY_BYTES } from '../gateway/http-api.js';
import { GATEWAY_DEFAULTS, type GatewayListenerConfig, type HeartbeatConfig } from '../gateway/options.js';
import { COALESCING_DEFAULTS, type CoalescingOptions } from '../session/coalescer.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Environment variables read when neither the config file nor a flag sets the value. */
export const ENV_AUTH_SECRET = 'PUSHLAB_AUTH_SECRET';
export const ENV_LOG_LEVEL = 'PUSHLAB_LOG_LEVEL';

export interface HttpConfig {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Largest accepted request body, in bytes. */
  maxBodyBytes: number;
}

export interface TlsFilesConfig {
  /** PEM certificate chain; an absolute path once loaded. */
  certFile: string;
  /** PEM private key; an absolute path once loaded. */
  keyFile: string;
}

export interface AuthConfig {
  /** The HMAC secret inline (UTF-8, at least 32 bytes). Prefer secretFile, which keeps it out of the config. */
  secret?: string;
  /** File holding the secret; one trailing line break is ignored. */
  secretFile?: string;
  /** Clock skew tolerated when checking token times, in milliseconds. */
  leewayMs: number;
}

/** Write coalescing: small frames queued in the same turn go out as one batch frame. */
export type CoalescingConfig = CoalescingOptions;

export interface GatewayConfig {
  listeners: GatewayListenerConfig[];
  http: HttpConfig;
  /** Absent: the CLI generates a self-signed development certificate. */
  tls?: TlsFilesConfig;
  auth: AuthConfig;
  heartbeat: HeartbeatConfig;
  /** Bytes. */
  maxFrameSize: number;
  handshakeTimeoutMs: number;
  coalescing: CoalescingConfig;
  sendWindow: number;
  inboxLimit: number;
  /**
   * Gateway processes sharing the listening ports; 1 runs everything in one process. More than one
   * supports TCP-based listeners only (see src/cluster).
   */
  workers: number;
  logLevel: LogLevel;
}

/** Bounds on maxFrameSize: a hello frame carries a token and ids, and a frame is buffered whole. */
export const MIN_FRAME_SIZE = 1024;
export const MAX_FRAME_SIZE = 16 * 1024 * 1024;
/** Upper bound on worker processes; far above the useful number on one machine. */
export const MAX_WORKERS = 64;

export function defaultGatewayConfig(): GatewayConfig {
  return {
    listeners: [{ transport: 'tcp', host: '127.0.0.1', port: 7000 }],
    http: { host: '127.0.0.1', port: 8080, maxBodyBytes: DEFAULT_MAX_BODY_BYTES },
    auth: { leewayMs: DEFAULT_LEEWAY_MS },
    heartbeat: { ...GATEWAY_DEFAULTS.heartbeat },
    maxFrameSize: GATEWAY_DEFAULTS.maxFrameSize,
    handshakeTimeoutMs: GATEWAY_DEFAULTS.handshakeTimeoutMs,
    coalescing: { ...COALESCING_DEFAULTS },
    sendWindow: GATEWAY_DEFAULTS.sendWindow,
    inboxLimit: GATEWAY_DEFAULTS.inboxLimit,
    workers: 1,
    logLevel: 'info',
  };
}
