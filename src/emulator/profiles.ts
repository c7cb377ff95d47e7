// Named link profiles. The numbers are chosen to resemble typical conditions of each access
// network; they are round figures for repeatable experiments, not measurements of any network.
// docs/EMULATOR.md lists them with their reasoning.
import { ConfigError } from '../errors.js';
import { validateLinkDirectionConfig, type LinkDirectionConfig } from './link-model.js';
import { loadMahimahiTrace } from './mahimahi-trace.js';

export interface LinkProfile {
  name: string;
  description: string;
  /** Client to target. */
  up: LinkDirectionConfig;
  /** Target to client. */
  down: LinkDirectionConfig;
  /**
   * Idle time after which the emulated NAT drops a flow's mapping (docs/EMULATOR.md describes how
   * UDP and TCP differ); no NAT expiry when absent.
   */
  natIdleTimeoutMs?: number;
}

const KIB = 1024;

function direction(delayMs: number, jitterMs: number, lossRate: number, bandwidthKbps?: number, queueLimitBytes?: number): LinkDirectionConfig {
  const config: LinkDirectionConfig = { delayMs, jitterMs, lossRate };
  if (bandwidthKbps !== undefined) config.bandwidthKbps = bandwidthKbps;
  if (queueLimitBytes !== undefined) config.queueLimitBytes = queueLimitBytes;
  return config;
}

const BUILT_IN: readonly LinkProfile[] = [
  {
    name: 'lan',
    description: 'no impairment: the relay forwards at once',
    up: direction(0, 0, 0),
    down: direction(0, 0, 0),
  },
  {
    name: 'wifi',
    description: 'good Wi-Fi behind a home router: 20 ms RTT, 0.1% loss, 20/50 Mbit/s up/down',
    up: direction(10, 2, 0.001, 20_000, 256 * KIB),
    down: direction(10, 2, 0.001, 50_000, 512 * KIB),
    // RFC 4787 section 4.3 (REQ-5c) recommends at least 5 minutes for UDP mappings.
    natIdleTimeoutMs: 300_000,
  },
  {
    name: '4g',
    description: 'LTE with fair signal: 60 ms RTT, 0.5% loss, 5/12 Mbit/s up/down',
    up: direction(30, 8, 0.005, 5_000, 128 * KIB),
    down: direction(30, 8, 0.005, 12_000, 256 * KIB),
    // The floor of RFC 4787 section 4.3 (REQ-5) for UDP mappings: 2 minutes.
    natIdleTimeoutMs: 120_000,
  },
  {
    name: '3g',
    description: 'HSPA: 200 ms RTT, 1% loss, 0.768/2 Mbit/s up/down',
    up: direction(100, 25, 0.01, 768, 64 * KIB),
    down: direction(100, 25, 0.01, 2_000, 128 * KIB),
    // Below the RFC 4787 floor on purpose: mobile NATs that break it are what keepalives must survive.
    natIdleTimeoutMs: 60_000,
  },
  {
    name: 'lossy-edge',
    description: 'EDGE at the cell edge: 600 ms RTT, 3% loss, 100/200 kbit/s up/down',
    up: direction(300, 60, 0.03, 100, 16 * KIB),
    down: direction(300, 60, 0.03, 200, 32 * KIB),
    natIdleTimeoutMs: 30_000,
  },
];

/** Returns the built-in profiles by name, as fresh copies the caller may change. */
export function builtInProfiles(): Record<string, LinkProfile> {
  const profiles: Record<string, LinkProfile> = {};
  for (const profile of BUILT_IN) profiles[profile.name] = cloneProfile(profile);
  return profiles;
}

export function profileNames(): string[] {
  return BUILT_IN.map((profile) => profile.name);
}

/** Looks up a built-in profile; throws ConfigError listing the valid names for an unknown one. */
export function getProfile(name: string): LinkProfile {
  const profile = BUILT_IN.find((candidate) => candidate.name === name);
  if (profile === undefined) {
    throw new ConfigError(`unknown link profile ${JSON.stringify(name)}; valid profiles: ${profileNames().join(', ')}`);
  }
  return cloneProfile(profile);
}

/** Accepts a profile object or a built-in name, validates it and returns a copy. */
export function resolveProfile(profile: LinkProfile | string): LinkProfile {
  const resolved = typeof profile === 'string' ? getProfile(profile) : cloneProfile(profile);
  validateProfile(resolved);
  return resolved;
}

/** Throws ConfigError naming the first invalid field. */
export function validateProfile(profile: LinkProfile): void {
  validateLinkDirectionConfig(profile.up, `${profile.name}.up`);
  validateLinkDirectionConfig(profile.down, `${profile.name}.down`);
  const timeout = profile.natIdleTimeoutMs;
  if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
    throw new ConfigError(`${profile.name}.natIdleTimeoutMs must be a finite number > 0, got ${String(timeout)}`);
  }
}

export interface TraceProfileOptions {
  name?: string;
  /** mahimahi trace for client to target; any readable path. */
  upTraceFile: string;
  /** mahimahi trace for target to client. */
  downTraceFile: string;
  /** One-way delay added to each direction, in ms. */
  delayMs?: number;
  jitterMs?: number;
  lossRate?: number;
  queueLimitBytes?: number;
  natIdleTimeoutMs?: number;
}

/** Builds a profile whose capacity follows two mahimahi traces instead of token buckets. */
export function traceProfile(options: TraceProfileOptions): LinkProfile {
  const side = (traceFile: string): LinkDirectionConfig => {
    const config = direction(options.delayMs ?? 0, options.jitterMs ?? 0, options.lossRate ?? 0, undefined, options.queueLimitBytes);
    config.traceFile = traceFile;
    return config;
  };
  const profile: LinkProfile = {
    name: options.name ?? 'trace',
    description: `mahimahi traces ${options.upTraceFile} (up) and ${options.downTraceFile} (down)`,
    up: side(options.upTraceFile),
    down: side(options.downTraceFile),
  };
  if (options.natIdleTimeoutMs !== undefined) profile.natIdleTimeoutMs = options.natIdleTimeoutMs;
  validateProfile(profile);
  return profile;
}

function cloneProfile(profile: LinkProfile): LinkProfile {
  return { ...profile, up: { ...profile.up }, down: { ...profile.down } };
}

/** Parses the profile's trace files now (cached by path), so a bad trace fails with its line number before anything changes. */
export function preloadProfileTraces(profile: LinkProfile): void {
  for (const side of [profile.up, profile.down]) {
    if (side.traceFile !== undefined) loadMahimahiTrace(side.traceFile);
  }
}
