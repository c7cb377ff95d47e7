// The `pushlab gateway` flags: one table drives argument parsing, help text and how each flag
// overrides the config file, so the three cannot drift apart.
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { defaultGatewayConfig, MAX_FRAME_SIZE, MAX_WORKERS, MIN_FRAME_SIZE, type GatewayConfig } from './schema.js';
import { readLogLevel } from './validate.js';
import { formatDuration, parseByteSize, parseCount, parseDuration, parseHostPort, parseListenSpec } from './values.js';

/** The values util.parseArgs returns for the flags below. */
export type GatewayFlagValues = Record<string, string | boolean | string[] | undefined>;

export interface GatewayFlag {
  /** Long name without the leading dashes. */
  name: string;
  type: 'string' | 'boolean';
  /** Whether the flag may repeat; its values then arrive as an array. */
  multiple?: boolean;
  /** Placeholder for the value in help text. */
  value?: string;
  /** Help text: the setting the flag changes, its unit and its default. */
  help: string;
  /** Writes the flag's value into the config; absent for flags the CLI handles itself. */
  apply?: (config: GatewayConfig, value: string | boolean | string[], flag: string) => void;
}

function range(value: number, flag: string, min: number, max: number, unit: string): number {
  if (value < min || value > max) throw new ConfigError(`${flag}: expected ${min} to ${max} ${unit}, got ${value}`);
  return value;
}

/** Help text shows the same defaults the loader applies. */
const DEFAULTS = defaultGatewayConfig();
const MAX_TIMER_MS = 2 ** 31 - 1;

const text = (value: string | boolean | string[]): string => (Array.isArray(value) ? String(value[value.length - 1]) : String(value));

export const GATEWAY_FLAGS: readonly GatewayFlag[] = [
  { name: 'config', type: 'string', value: 'FILE', help: 'JSON config file; flags override its values. Default: none (built-in defaults).' },
  {
    name: 'listen',
    type: 'string',
    multiple: true,
    value: 'TRANSPORT=HOST:PORT',
    help: 'A transport listener, e.g. tcp=127.0.0.1:7000; repeat for several. Replaces the file\'s listeners. Port 0 picks a free port. Default: tcp=127.0.0.1:7000.',
    apply: (config, value, flag) => {
      const specs = Array.isArray(value) ? value : [String(value)];
      config.listeners = specs.map((spec) => parseListenSpec(spec, flag));
    },
  },
  {
    name: 'http',
    type: 'string',
    value: 'HOST:PORT',
    help: 'Address of the HTTP API (publish, health, metrics). Default: 127.0.0.1:8080.',
    apply: (config, value, flag) => {
      config.http = { ...config.http, ...parseHostPort(text(value), flag) };
    },
  },
  {
    name: 'max-body-bytes',
    type: 'string',
    value: 'SIZE',
    help: `Largest HTTP request body, in bytes (64KiB and 1MiB forms work). Default: ${DEFAULTS.http.maxBodyBytes}.`,
    apply: (config, value, flag) => {
      config.http.maxBodyBytes = range(parseByteSize(text(value), flag), flag, 1, 2 ** 30, 'bytes');
    },
  },
  {
    name: 'log-level',
    type: 'string',
    value: 'LEVEL',
    help: 'Log level: fatal, error, warn, info, debug, trace or silent. Logs go to stderr as JSON lines. Default: info.',
    apply: (config, value, flag) => {
      config.logLevel = readLogLevel(text(value), flag);
    },
  },
  {
    name: 'auth-secret-file',
    type: 'string',
    value: 'FILE',
    help: 'File holding the token HMAC secret (at least 32 bytes). Default: auth.secretFile, then $PUSHLAB_AUTH_SECRET.',
    apply: (config, value) => {
      config.auth = { ...config.auth, secretFile: path.resolve(text(value)), secret: undefined };
    },
  },
  {
    name: 'tls-cert',
    type: 'string',
    value: 'FILE',
    help: 'PEM certificate for TLS-based transports; needs --tls-key. Default: a self-signed development certificate.',
  },
  { name: 'tls-key', type: 'string', value: 'FILE', help: 'PEM private key matching --tls-cert.' },
  {
    name: 'heartbeat-interval',
    type: 'string',
    value: 'DURATION',
    help: `Send silence after which the client pings (500ms, 30s, 5m forms). Default: ${formatDuration(DEFAULTS.heartbeat.intervalMs)}.`,
    apply: (config, value, flag) => {
      config.heartbeat.intervalMs = range(parseDuration(text(value), flag), flag, 1, MAX_TIMER_MS, 'milliseconds');
    },
  },
  {
    name: 'heartbeat-timeout',
    type: 'string',
    value: 'DURATION',
    help: `Grace on top of the interval before a silent peer counts as dead. Default: ${formatDuration(DEFAULTS.heartbeat.timeoutMs)}.`,
    apply: (config, value, flag) => {
      config.heartbeat.timeoutMs = range(parseDuration(text(value), flag), flag, 1, MAX_TIMER_MS, 'milliseconds');
    },
  },
  {
    name: 'max-frame-size',
    type: 'string',
    value: 'SIZE',
    help: `Largest frame accepted or sent, in bytes (${MIN_FRAME_SIZE} to ${MAX_FRAME_SIZE}). Default: ${DEFAULTS.maxFrameSize}.`,
    apply: (config, value, flag) => {
      config.maxFrameSize = range(parseByteSize(text(value), flag), flag, MIN_FRAME_SIZE, MAX_FRAME_SIZE, 'bytes');
    },
  },
  {
    name: 'handshake-timeout',
    type: 'string',
    value: 'DURATION',
    help: `Time allowed from accept to a valid hello. Default: ${formatDuration(DEFAULTS.handshakeTimeoutMs)}.`,
    apply: (config, value, flag) => {
      config.handshakeTimeoutMs = range(parseDuration(text(value), flag), flag, 1, MAX_TIMER_MS, 'milliseconds');
    },
  },
  {
    name: 'coalescing',
    type: 'boolean',
    help: `Batch small frames into one transport write; --no-coalescing sends each frame in its own write. Default: ${DEFAULTS.coalescing.enabled ? 'on' : 'off'}.`,
    apply: (config, value) => {
      config.coalescing.enabled = value === true;
    },
  },
  {
    name: 'coalescing-max-bytes',
    type: 'string',
    value: 'SIZE',
    help: `Flush a batch before it would exceed this many bytes (capped by the max frame size). Default: ${DEFAULTS.coalescing.maxBytes}.`,
    apply: (config, value, flag) => {
      config.coalescing.maxBytes = range(parseByteSize(text(value), flag), flag, 1, MAX_FRAME_SIZE, 'bytes');
    },
  },
  {
    name: 'coalescing-max-delay',
    type: 'string',
    value: 'DURATION',
    help: `Flush a batch this long after its first frame; 0ms flushes at the end of the event-loop turn. Default: ${formatDuration(DEFAULTS.coalescing.maxDelayMs)}.`,
    apply: (config, value, flag) => {
      config.coalescing.maxDelayMs = range(parseDuration(text(value), flag), flag, 0, MAX_TIMER_MS, 'milliseconds');
    },
  },
  {
    name: 'send-window',
    type: 'string',
    value: 'COUNT',
    help: `Unacknowledged pushes in flight per session before later ones wait. Default: ${DEFAULTS.sendWindow}.`,
    apply: (config, value, flag) => {
      config.sendWindow = range(parseCount(text(value), flag), flag, 1, 1_000_000, 'pushes');
    },
  },
  {
    name: 'inbox-limit',
    type: 'string',
    value: 'COUNT',
    help: `Unacknowledged messages kept per device; older ones are dropped. Default: ${DEFAULTS.inboxLimit}.`,
    apply: (config, value, flag) => {
      config.inboxLimit = range(parseCount(text(value), flag), flag, 1, 100_000_000, 'messages');
    },
  },
  {
    name: 'workers',
    type: 'string',
    value: 'COUNT',
    help: `Gateway processes sharing the listening ports (TCP listeners only above 1). Default: ${DEFAULTS.workers}.`,
    apply: (config, value, flag) => {
      config.workers = range(parseCount(text(value), flag), flag, 1, MAX_WORKERS, 'processes');
    },
  },
];

/** Applies parsed flag values over `config`, which already contains the defaults and the file's values. */
export function applyGatewayFlags(config: GatewayConfig, values: GatewayFlagValues): GatewayConfig {
  const result = structuredClone(config);
  for (const flag of GATEWAY_FLAGS) {
    const value = values[flag.name];
    if (value === undefined || flag.apply === undefined) continue;
    flag.apply(result, value, `--${flag.name}`);
  }

  const cert = values['tls-cert'];
  const key = values['tls-key'];
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError('--tls-cert and --tls-key must be given together');
  }
  if (typeof cert === 'string' && typeof key === 'string') {
    result.tls = { certFile: path.resolve(cert), keyFile: path.resolve(key) };
  }
  return result;
}
