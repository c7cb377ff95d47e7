// Experiment scenarios: a JSON file that names the transports and link profiles to compare and the
// workload to run over each pair. Loading validates every field and rejects unknown keys, so a
// misspelt key fails with a message that names it instead of being ignored. docs/EXPERIMENTS.md
// describes the format.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, toError } from '../errors.js';
import type { BlackholeDirection, LinkProfile } from '../emulator/index.js';
import { FieldReader } from './field-reader.js';
import { readProfileEntry, readWindow, type LinkEvent } from './scenario-profiles.js';

export type { LinkEvent } from './scenario-profiles.js';

/** Link backends a scenario may request: 'auto' takes the packet backend where available. */
export type BackendPreference = 'auto' | 'packet' | 'relay';
export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'packet', 'relay'];

export interface OutageSpec {
  /** Start of the outage, in ms after the publish phase starts. */
  atMs: number;
  durationMs: number;
  direction: BlackholeDirection;
}

export interface ClientSpec {
  /** Time one connection attempt (dial plus welcome) may take, in ms. */
  attemptTimeoutMs: number;
  /** Upper bound of the first reconnect delay, in ms. */
  backoffInitialMs: number;
  /** Cap of the reconnect delay bound, in ms. */
  backoffMaxMs: number;
}

export interface Scenario {
  name: string;
  description: string;
  /** The file the scenario came from, for the report. */
  source: string;
  seed: number;
  /** Requested link backend; 'auto' picks the packet backend when this machine can run it. */
  backend: BackendPreference;
  transports: string[];
  profiles: LinkProfile[];
  /** Link events of each profile, by profile name, sorted by start time. */
  profileEvents: Record<string, LinkEvent[]>;
  /** Publish phase length of each profile's cells, by profile name, in ms. */
  profileDurationMs: Record<string, number>;
  devices: number;
  /** Devices that may be connecting at the same time during the connect phase. */
  connectConcurrency: number;
  /** Bound on the whole connect phase, in ms. */
  connectTimeoutMs: number;
  /** Length of the publish phase, in ms. */
  durationMs: number;
  /** Messages per second across all devices. */
  publishRatePerSec: number;
  /** Share of messages, 0..1, published with high priority. */
  highPriorityShare: number;
  payloadBytes: number;
  /** A blackhole on every profile, on top of each profile's own events. */
  outage: OutageSpec | null;
  /** Whether the connect phase takes the two memory scrapes (each waits 1 s for memory to settle). */
  measureMemory: boolean;
  heartbeat: { intervalMs: number; timeoutMs: number };
  /** Bound on the drain phase, in ms. */
  drainTimeoutMs: number;
  client: ClientSpec;
}

const TOP_LEVEL_KEYS = [
  'name',
  'description',
  'seed',
  'backend',
  'transports',
  'profiles',
  'devices',
  'connectConcurrency',
  'connectTimeoutMs',
  'durationMs',
  'publishRatePerSec',
  'highPriorityShare',
  'payloadBytes',
  'outage',
  'measureMemory',
  'heartbeat',
  'drainTimeoutMs',
  'client',
] as const;


/** The largest delay a Node.js timer supports (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Each device uses three sockets in the runner (client, relay accept, relay upstream), and the fd limit is often 20000 or lower. */
const MAX_DEVICES = 5_000;
/** Half the gateway's default 64 KiB frame limit, which leaves ample room for the push header. */
const MAX_PAYLOAD_BYTES = 32 * 1024;

const DEFAULTS = {
  description: '',
  seed: 1,
  backend: 'auto',
  connectConcurrency: 10,
  connectTimeoutMs: 30_000,
  highPriorityShare: 0.2,
  payloadBytes: 128,
  outage: null,
  measureMemory: true,
  drainTimeoutMs: 30_000,
  client: { attemptTimeoutMs: 10_000, backoffInitialMs: 500, backoffMaxMs: 5_000 },
} as const;

/** Reads and validates a scenario file; relative trace paths are resolved against its directory. */
export function loadScenario(file: string): Scenario {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read scenario file ${absolute}: ${toError(error).message}`, { cause: error });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`scenario file ${absolute} is not valid JSON: ${toError(error).message}`, { cause: error });
  }
  return parseScenario(raw, absolute, path.dirname(absolute));
}

/**
 * Validates a parsed scenario object and fills in defaults. Throws ConfigError whose message starts
 * with `source` and names the first invalid field.
 */
export function parseScenario(raw: unknown, source: string, baseDir: string): Scenario {
  const read = new FieldReader(source);
  const top = read.object(raw, '', TOP_LEVEL_KEYS);

  const name = read.name(read.required(top, 'name'), 'name');
  const transports = read.list(read.required(top, 'transports'), 'transports', (value, key) => read.name(value, key));
  read.unique(transports, 'transports');
  const durationMs = read.integer(read.required(top, 'durationMs'), 'durationMs', 1_000, 3_600_000, 'ms');
  const entries = read.list(read.required(top, 'profiles'), 'profiles', (value, key) => readProfileEntry(read, value, key, baseDir, durationMs));
  const profiles = entries.map((entry) => entry.profile);
  read.unique(
    profiles.map((profile) => profile.name),
    'profiles',
  );

  const outage = top.outage === undefined || top.outage === null ? DEFAULTS.outage : readWindow(read, read.object(top.outage, 'outage', ['atMs', 'durationMs', 'direction']), 'outage', durationMs);
  for (const [index, entry] of entries.entries()) {
    if (outage !== null && outage.atMs + outage.durationMs > entry.durationMs) {
      read.fail(`profiles[${index}].durationMs`, `at least ${outage.atMs + outage.durationMs} ms so the scenario's outage ends within it`, entry.durationMs);
    }
  }

  const backend = top.backend === undefined ? DEFAULTS.backend : read.text(top.backend, 'backend');
  if (!BACKEND_PREFERENCES.includes(backend as BackendPreference)) {
    read.fail('backend', `one of ${BACKEND_PREFERENCES.map((n) => JSON.stringify(n)).join(', ')}`, backend);
  }
  const heartbeatRaw = read.object(read.required(top, 'heartbeat'), 'heartbeat', ['intervalMs', 'timeoutMs']);
  const heartbeat = {
    intervalMs: read.integer(read.required(heartbeatRaw, 'intervalMs', 'heartbeat.'), 'heartbeat.intervalMs', 1, MAX_TIMER_MS, 'ms'),
    timeoutMs: read.integer(read.required(heartbeatRaw, 'timeoutMs', 'heartbeat.'), 'heartbeat.timeoutMs', 1, MAX_TIMER_MS, 'ms'),
  };

  return {
    name,
    description: top.description === undefined ? DEFAULTS.description : read.string(top.description, 'description'),
    source,
    seed: top.seed === undefined ? DEFAULTS.seed : read.integer(top.seed, 'seed', 0, 2 ** 32 - 1, 'unsigned 32-bit'),
    backend: backend as BackendPreference,
    transports,
    profiles,
    profileEvents: Object.fromEntries(entries.map((entry) => [entry.profile.name, entry.events])),
    profileDurationMs: Object.fromEntries(entries.map((entry) => [entry.profile.name, entry.durationMs])),
    devices: read.integer(read.required(top, 'devices'), 'devices', 2, MAX_DEVICES, 'devices; one is the warm-up device of the memory baseline'),
    connectConcurrency: optionalInteger(read, top, 'connectConcurrency', DEFAULTS.connectConcurrency, 1, MAX_DEVICES, 'devices'),
    connectTimeoutMs: optionalInteger(read, top, 'connectTimeoutMs', DEFAULTS.connectTimeoutMs, 1_000, MAX_TIMER_MS, 'ms'),
    durationMs,
    publishRatePerSec: read.number(read.required(top, 'publishRatePerSec'), 'publishRatePerSec', 0.1, 10_000, 'messages per second'),
    highPriorityShare: top.highPriorityShare === undefined ? DEFAULTS.highPriorityShare : read.number(top.highPriorityShare, 'highPriorityShare', 0, 1, 'a share'),
    payloadBytes: optionalInteger(read, top, 'payloadBytes', DEFAULTS.payloadBytes, 1, MAX_PAYLOAD_BYTES, 'bytes'),
    outage,
    measureMemory: top.measureMemory === undefined ? DEFAULTS.measureMemory : read.boolean(top.measureMemory, 'measureMemory'),
    heartbeat,
    drainTimeoutMs: optionalInteger(read, top, 'drainTimeoutMs', DEFAULTS.drainTimeoutMs, 1_000, 600_000, 'ms'),
    client: readClient(read, top.client),
  };
}

function optionalInteger(read: FieldReader, record: Record<string, unknown>, key: string, fallback: number, min: number, max: number, unit: string): number {
  return record[key] === undefined ? fallback : read.integer(record[key], key, min, max, unit);
}

function readClient(read: FieldReader, value: unknown): ClientSpec {
  if (value === undefined) return { ...DEFAULTS.client };
  const client = read.object(value, 'client', ['attemptTimeoutMs', 'backoffInitialMs', 'backoffMaxMs']);
  const spec: ClientSpec = {
    attemptTimeoutMs: client.attemptTimeoutMs === undefined ? DEFAULTS.client.attemptTimeoutMs : read.integer(client.attemptTimeoutMs, 'client.attemptTimeoutMs', 100, MAX_TIMER_MS, 'ms'),
    backoffInitialMs: client.backoffInitialMs === undefined ? DEFAULTS.client.backoffInitialMs : read.integer(client.backoffInitialMs, 'client.backoffInitialMs', 1, MAX_TIMER_MS, 'ms'),
    backoffMaxMs: client.backoffMaxMs === undefined ? DEFAULTS.client.backoffMaxMs : read.integer(client.backoffMaxMs, 'client.backoffMaxMs', 1, MAX_TIMER_MS, 'ms'),
  };
  if (spec.backoffMaxMs < spec.backoffInitialMs) {
    read.fail('client.backoffMaxMs', `at least client.backoffInitialMs (${spec.backoffInitialMs})`, spec.backoffMaxMs);
  }
  return spec;
}

