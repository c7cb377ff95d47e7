// Validation of a parsed JSON config file. Every message names the source, the key path and the
// expected form, and unknown keys are rejected so a misspelt key cannot be silently ignored.
import path from 'node:path';
import { ConfigError } from '../errors.js';
import type { GatewayListenerConfig } from '../gateway/options.js';
import { LOG_LEVELS, MAX_FRAME_SIZE, MAX_WORKERS, MIN_FRAME_SIZE, type GatewayConfig, type LogLevel } from './schema.js';

const TOP_LEVEL_KEYS = [
  'listeners',
  'http',
  'tls',
  'auth',
  'heartbeat',
  'maxFrameSize',
  'handshakeTimeoutMs',
  'coalescing',
  'sendWindow',
  'inboxLimit',
  'workers',
  'logLevel',
] as const;

/** Largest value any millisecond setting may take: about 24.8 days, the limit of Node timers. */
const MAX_TIMER_MS = 2 ** 31 - 1;

class FieldReader {
  constructor(private readonly source: string) {}

  fail(key: string, expected: string, value: unknown): never {
    const field = key === '' ? 'the top level' : key;
    throw new ConfigError(`${this.source}: ${field} must be ${expected}, got ${describeValue(value)}`);
  }

  object(value: unknown, key: string, allowed: readonly string[]): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(key, 'an object', value);
    const record = value as Record<string, unknown>;
    const unknown = Object.keys(record).filter((name) => !allowed.includes(name));
    if (unknown.length > 0) {
      const where = key === '' ? 'the top level' : key;
      throw new ConfigError(`${this.source}: unknown key(s) ${unknown.map((name) => JSON.stringify(name)).join(', ')} in ${where}; allowed keys: ${allowed.join(', ')}`);
    }
    return record;
  }

  integer(value: unknown, key: string, min: number, max: number, unit: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(key, `an integer from ${min} to ${max} (${unit})`, value);
    }
    return value;
  }

  text(value: unknown, key: string): string {
    if (typeof value !== 'string' || value.length === 0) this.fail(key, 'a non-empty string', value);
    return value;
  }

  flag(value: unknown, key: string): boolean {
    if (typeof value !== 'boolean') this.fail(key, 'true or false', value);
    return value;
  }
}

/**
 * Returns `base` with the values of a parsed config file applied. Relative file paths in the file
 * are resolved against `baseDir` (the file's directory), so a config works from any working directory.
 */
export function applyConfigFile(base: GatewayConfig, raw: unknown, source: string, baseDir: string): GatewayConfig {
  const fields = new FieldReader(source);
  const file = fields.object(raw, '', TOP_LEVEL_KEYS);
  const config: GatewayConfig = structuredClone(base);
  const filePath = (value: unknown, key: string): string => path.resolve(baseDir, fields.text(value, key));

  if (file.listeners !== undefined) config.listeners = readListeners(fields, file.listeners);

  if (file.http !== undefined) {
    const http = fields.object(file.http, 'http', ['host', 'port', 'maxBodyBytes']);
    if (http.host !== undefined) config.http.host = fields.text(http.host, 'http.host');
    if (http.port !== undefined) config.http.port = fields.integer(http.port, 'http.port', 0, 65_535, 'TCP port; 0 picks a free port');
    if (http.maxBodyBytes !== undefined) config.http.maxBodyBytes = fields.integer(http.maxBodyBytes, 'http.maxBodyBytes', 1, 2 ** 30, 'bytes');
  }

  if (file.tls !== undefined) {
    const tls = fields.object(file.tls, 'tls', ['certFile', 'keyFile']);
    config.tls = { certFile: filePath(tls.certFile, 'tls.certFile'), keyFile: filePath(tls.keyFile, 'tls.keyFile') };
  }

  if (file.auth !== undefined) {
    const auth = fields.object(file.auth, 'auth', ['secret', 'secretFile', 'leewayMs']);
    if (auth.secret !== undefined && auth.secretFile !== undefined) {
      throw new ConfigError(`${source}: auth.secret and auth.secretFile are both set; give only one`);
    }
    if (auth.secret !== undefined) config.auth = { ...config.auth, secret: fields.text(auth.secret, 'auth.secret'), secretFile: undefined };
    if (auth.secretFile !== undefined) config.auth = { ...config.auth, secretFile: filePath(auth.secretFile, 'auth.secretFile'), secret: undefined };
    if (auth.leewayMs !== undefined) config.auth.leewayMs = fields.integer(auth.leewayMs, 'auth.leewayMs', 0, MAX_TIMER_MS, 'milliseconds');
  }

  if (file.heartbeat !== undefined) {
    const heartbeat = fields.object(file.heartbeat, 'heartbeat', ['intervalMs', 'timeoutMs']);
    if (heartbeat.intervalMs !== undefined) config.heartbeat.intervalMs = fields.integer(heartbeat.intervalMs, 'heartbeat.intervalMs', 1, MAX_TIMER_MS, 'milliseconds');
    if (heartbeat.timeoutMs !== undefined) config.heartbeat.timeoutMs = fields.integer(heartbeat.timeoutMs, 'heartbeat.timeoutMs', 1, MAX_TIMER_MS, 'milliseconds');
  }

  if (file.maxFrameSize !== undefined) config.maxFrameSize = fields.integer(file.maxFrameSize, 'maxFrameSize', MIN_FRAME_SIZE, MAX_FRAME_SIZE, 'bytes');
  if (file.handshakeTimeoutMs !== undefined) {
    config.handshakeTimeoutMs = fields.integer(file.handshakeTimeoutMs, 'handshakeTimeoutMs', 1, MAX_TIMER_MS, 'milliseconds');
  }

  if (file.coalescing !== undefined) {
    const coalescing = fields.object(file.coalescing, 'coalescing', ['enabled', 'maxBytes', 'maxDelayMs']);
    if (coalescing.enabled !== undefined) config.coalescing.enabled = fields.flag(coalescing.enabled, 'coalescing.enabled');
    if (coalescing.maxBytes !== undefined) config.coalescing.maxBytes = fields.integer(coalescing.maxBytes, 'coalescing.maxBytes', 1, MAX_FRAME_SIZE, 'bytes');
    if (coalescing.maxDelayMs !== undefined) config.coalescing.maxDelayMs = fields.integer(coalescing.maxDelayMs, 'coalescing.maxDelayMs', 0, MAX_TIMER_MS, 'milliseconds');
  }

  if (file.sendWindow !== undefined) config.sendWindow = fields.integer(file.sendWindow, 'sendWindow', 1, 1_000_000, 'unacknowledged pushes');
  if (file.inboxLimit !== undefined) config.inboxLimit = fields.integer(file.inboxLimit, 'inboxLimit', 1, 100_000_000, 'messages per device');
  if (file.workers !== undefined) config.workers = fields.integer(file.workers, 'workers', 1, MAX_WORKERS, 'gateway processes');
  if (file.logLevel !== undefined) config.logLevel = readLogLevel(file.logLevel, `${source}: logLevel`);
  return config;
}

function readListeners(fields: FieldReader, value: unknown): GatewayListenerConfig[] {
  if (!Array.isArray(value) || value.length === 0) fields.fail('listeners', 'a non-empty array of {transport, host, port, settings?}', value);
  return value.map((entry: unknown, index) => {
    const key = `listeners[${index}]`;
    const listener = fields.object(entry, key, ['transport', 'host', 'port', 'settings']);
    const result: GatewayListenerConfig = {
      transport: fields.text(listener.transport, `${key}.transport`),
      host: fields.text(listener.host, `${key}.host`),
      port: fields.integer(listener.port, `${key}.port`, 0, 65_535, 'port; 0 picks a free port'),
    };
    if (listener.settings !== undefined) {
      if (typeof listener.settings !== 'object' || listener.settings === null || Array.isArray(listener.settings)) {
        fields.fail(`${key}.settings`, 'an object of transport-specific settings', listener.settings);
      }
      result.settings = listener.settings as Record<string, unknown>;
    }
    return result;
  });
}

/** Checks a log level; `field` names where it came from (a key, a flag or an environment variable). */
export function readLogLevel(value: unknown, field: string): LogLevel {
  if (typeof value !== 'string' || !(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new ConfigError(`${field} must be one of ${LOG_LEVELS.join(', ')}, got ${describeValue(value)}`);
  }
  return value as LogLevel;
}

/**
 * Checks rules that span several keys, after the file and the flags are merged: two listeners of
 * the same transport may not share a fixed address.
 */
export function checkConfigConsistency(config: GatewayConfig): void {
  const seen = new Map<string, string>();
  config.listeners.forEach((listener, index) => {
    if (listener.port === 0) return;
    const address = `${listener.transport} ${listener.host}:${listener.port}`;
    const earlier = seen.get(address);
    if (earlier !== undefined) {
      throw new ConfigError(`listeners[${index}] repeats ${earlier} (${address}); give each listener its own port`);
    }
    seen.set(address, `listeners[${index}]`);
  });
  if (config.workers > 1) {
    // node:cluster balances TCP connections across workers. It would spread the datagrams of one
    // QUIC or UDP session over all of them, so those listeners need a single process.
    config.listeners.forEach((listener, index) => {
      if (!MULTI_PROCESS_TRANSPORTS.includes(listener.transport)) {
        throw new ConfigError(`listeners[${index}].transport: ${JSON.stringify(listener.transport)} cannot run with workers > 1; multi-process mode supports ${MULTI_PROCESS_TRANSPORTS.join(', ')}`);
      }
    });
  }
}

/** Transports whose connections node:cluster can spread over worker processes. */
export const MULTI_PROCESS_TRANSPORTS: readonly string[] = ['tcp', 'tcp-plain'];

export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}
