// Parsers for the text forms of config values given as CLI flags: durations, byte sizes, host:port
// addresses and listener specs. Each throws ConfigError naming the field and the expected form.
import { ConfigError } from '../errors.js';
import type { GatewayListenerConfig } from '../gateway/options.js';

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kib: 1024, mib: 1024 * 1024 };

/**
 * Parses "500ms", "30s", "1.5s", "5m" or "1h" into whole milliseconds. A unit is required because
 * a bare "30" is read as seconds by some people and as milliseconds by others.
 */
export function parseDuration(text: string, field: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!match) {
    throw new ConfigError(`${field}: expected a duration with a unit such as 500ms, 30s, 5m or 1h, got ${JSON.stringify(text)}`);
  }
  const [, amount, unit] = match as unknown as [string, string, string];
  const ms = Math.round(Number(amount) * (DURATION_UNITS_MS[unit] ?? 1));
  if (!Number.isSafeInteger(ms)) throw new ConfigError(`${field}: duration ${JSON.stringify(text)} is too large`);
  return ms;
}

/** Parses a byte count: "65536", "64KiB" or "1MiB" (binary multiples, case-insensitive). */
export function parseByteSize(text: string, field: string): number {
  const match = /^(\d+)\s*(b|kib|mib)?$/i.exec(text.trim());
  if (!match) {
    throw new ConfigError(`${field}: expected a size in bytes such as 65536, 64KiB or 1MiB, got ${JSON.stringify(text)}`);
  }
  const bytes = Number(match[1]) * (SIZE_UNITS[(match[2] ?? '').toLowerCase()] ?? 1);
  if (!Number.isSafeInteger(bytes)) throw new ConfigError(`${field}: size ${JSON.stringify(text)} is too large`);
  return bytes;
}

/** Parses a non-negative decimal integer such as "256". */
export function parseCount(text: string, field: string): number {
  if (!/^\d+$/.test(text.trim())) throw new ConfigError(`${field}: expected a whole number such as 256, got ${JSON.stringify(text)}`);
  const value = Number(text.trim());
  if (!Number.isSafeInteger(value)) throw new ConfigError(`${field}: number ${JSON.stringify(text)} is too large`);
  return value;
}

/** Parses "HOST:PORT"; an IPv6 host goes in brackets ("[::1]:8080"). Port 0 picks a free port. */
export function parseHostPort(text: string, field: string): { host: string; port: number } {
  const expected = 'expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080';
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(text.trim());
  if (!match) throw new ConfigError(`${field}: ${expected}, got ${JSON.stringify(text)}`);
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (port > 65_535) throw new ConfigError(`${field}: port ${port} is out of range 0-65535`);
  return { host, port };
}

/** Parses "TRANSPORT=HOST:PORT", for example "tcp=127.0.0.1:7000". */
export function parseListenSpec(text: string, field: string): GatewayListenerConfig {
  const separator = text.indexOf('=');
  const transport = separator > 0 ? text.slice(0, separator).trim() : '';
  if (transport.length === 0) {
    throw new ConfigError(`${field}: expected TRANSPORT=HOST:PORT such as tcp=127.0.0.1:7000, got ${JSON.stringify(text)}`);
  }
  return { transport, ...parseHostPort(text.slice(separator + 1), field) };
}

/** Formats milliseconds in the largest unit that divides them exactly, for help text and logs. */
export function formatDuration(ms: number): string {
  for (const unit of ['h', 'm', 's'] as const) {
    const size = DURATION_UNITS_MS[unit] ?? 1;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
