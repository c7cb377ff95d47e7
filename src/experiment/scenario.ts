// Experiment scenarios: a JSON file that names the transports and link profiles to compare and the
// workload to run over each pair. Loading validates every field and rejects unknown keys, so a
// misspelt key fails with a message that names it instead of being ignored. docs/EXPERIMENTS.md
// describes the format.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, PushlabError, toError } from '../errors.js';
import { loadMahimahiTrace, resolveProfile, traceProfile, type BlackholeDirection, type LinkProfile } from '../emulator/index.js';
import { linkBackendNames } from './link-backend.js';

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
  /** Name of the link backend (see link-backend.ts). */
  backend: string;
  transports: string[];
  profiles: LinkProfile[];
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
  outage: OutageSpec | null;
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
  'heartbeat',
  'drainTimeoutMs',
  'client',
] as const;

const TRACE_KEYS = ['trace', 'name', 'delayMs', 'jitterMs', 'lossRate', 'queueLimitBytes', 'natIdleTimeoutMs'] as const;
const INLINE_PROFILE_KEYS = ['name', 'description', 'up', 'down', 'natIdleTimeoutMs'] as const;

/** The largest delay a Node.js timer supports (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Each device uses three sockets in the runner (client, relay accept, relay upstream), and the fd limit is often 20000 or lower. */
const MAX_DEVICES = 5_000;
/** Half the gateway's default 64 KiB frame limit, which leaves ample room for the push header. */
const MAX_PAYLOAD_BYTES = 32 * 1024;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const DEFAULTS = {
  description: '',
  seed: 1,
  backend: 'relay',
  connectConcurrency: 10,
  connectTimeoutMs: 30_000,
  highPriorityShare: 0.2,
  payloadBytes: 128,
  outage: null,
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
  const profiles = read.list(read.required(top, 'profiles'), 'profiles', (value, key) => readProfile(read, value, key, baseDir));
  read.unique(
    profiles.map((profile) => profile.name),
    'profiles',
  );

  const backend = top.backend === undefined ? DEFAULTS.backend : read.text(top.backend, 'backend');
  if (!linkBackendNames().includes(backend)) {
    read.fail('backend', `one of ${linkBackendNames().map((n) => JSON.stringify(n)).join(', ')}`, backend);
  }

  const durationMs = read.integer(read.required(top, 'durationMs'), 'durationMs', 1_000, 3_600_000, 'ms');
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
    backend,
    transports,
    profiles,
    devices: read.integer(read.required(top, 'devices'), 'devices', 2, MAX_DEVICES, 'devices; one is the warm-up device of the memory baseline'),
    connectConcurrency: optionalInteger(read, top, 'connectConcurrency', DEFAULTS.connectConcurrency, 1, MAX_DEVICES, 'devices'),
    connectTimeoutMs: optionalInteger(read, top, 'connectTimeoutMs', DEFAULTS.connectTimeoutMs, 1_000, MAX_TIMER_MS, 'ms'),
    durationMs,
    publishRatePerSec: read.number(read.required(top, 'publishRatePerSec'), 'publishRatePerSec', 0.1, 10_000, 'messages per second'),
    highPriorityShare: top.highPriorityShare === undefined ? DEFAULTS.highPriorityShare : read.number(top.highPriorityShare, 'highPriorityShare', 0, 1, 'a share'),
    payloadBytes: optionalInteger(read, top, 'payloadBytes', DEFAULTS.payloadBytes, 1, MAX_PAYLOAD_BYTES, 'bytes'),
    outage: top.outage === undefined || top.outage === null ? DEFAULTS.outage : readOutage(read, top.outage, durationMs),
    heartbeat,
    drainTimeoutMs: optionalInteger(read, top, 'drainTimeoutMs', DEFAULTS.drainTimeoutMs, 1_000, 600_000, 'ms'),
    client: readClient(read, top.client),
  };
}

function optionalInteger(read: FieldReader, record: Record<string, unknown>, key: string, fallback: number, min: number, max: number, unit: string): number {
  return record[key] === undefined ? fallback : read.integer(record[key], key, min, max, unit);
}

function readOutage(read: FieldReader, value: unknown, durationMs: number): OutageSpec {
  const outage = read.object(value, 'outage', ['atMs', 'durationMs', 'direction']);
  const atMs = read.integer(read.required(outage, 'atMs', 'outage.'), 'outage.atMs', 0, durationMs, 'ms after the publish phase starts');
  const length = read.integer(read.required(outage, 'durationMs', 'outage.'), 'outage.durationMs', 1, MAX_TIMER_MS, 'ms');
  if (atMs + length > durationMs) {
    read.fail('outage.durationMs', `at most ${durationMs - atMs} ms so the outage ends within the publish phase (durationMs ${durationMs} − outage.atMs ${atMs})`, length);
  }
  const direction = outage.direction === undefined ? 'both' : outage.direction;
  if (direction !== 'up' && direction !== 'down' && direction !== 'both') read.fail('outage.direction', '"up", "down" or "both"', direction);
  return { atMs, durationMs: length, direction };
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

/** Reads a profile entry: a built-in name, {trace: path | {up, down}, …}, or an inline LinkProfile object. */
function readProfile(read: FieldReader, value: unknown, key: string, baseDir: string): LinkProfile {
  if (typeof value === 'string') return read.wrap(key, () => resolveProfile(value));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    read.fail(key, 'a built-in profile name, a {"trace": …} object or an inline profile object', value);
  }
  const record = value as Record<string, unknown>;
  if ('trace' in record) return readTraceProfile(read, record, key, baseDir);

  const inline = read.object(record, key, INLINE_PROFILE_KEYS);
  const name = read.name(read.required(inline, 'name', `${key}.`), `${key}.name`);
  const profile = {
    name,
    description: inline.description === undefined ? `inline profile ${name}` : read.string(inline.description, `${key}.description`),
    up: read.object(read.required(inline, 'up', `${key}.`), `${key}.up`, DIRECTION_KEYS),
    down: read.object(read.required(inline, 'down', `${key}.`), `${key}.down`, DIRECTION_KEYS),
    ...(inline.natIdleTimeoutMs === undefined ? {} : { natIdleTimeoutMs: inline.natIdleTimeoutMs }),
  } as unknown as LinkProfile;
  for (const side of ['up', 'down'] as const) {
    const direction = profile[side];
    if (typeof direction.traceFile === 'string') direction.traceFile = path.resolve(baseDir, direction.traceFile);
  }
  return read.wrap(key, () => {
    const resolved = resolveProfile(profile);
    for (const side of [resolved.up, resolved.down]) if (side.traceFile !== undefined) loadMahimahiTrace(side.traceFile);
    return resolved;
  });
}

const DIRECTION_KEYS = ['delayMs', 'jitterMs', 'lossRate', 'bandwidthKbps', 'burstBytes', 'queueLimitBytes', 'traceFile', 'reorder'] as const;

function readTraceProfile(read: FieldReader, record: Record<string, unknown>, key: string, baseDir: string): LinkProfile {
  const spec = read.object(record, key, TRACE_KEYS);
  let up: string;
  let down: string;
  if (typeof spec.trace === 'string' && spec.trace.length > 0) {
    up = down = path.resolve(baseDir, spec.trace);
  } else {
    const files = read.object(spec.trace, `${key}.trace`, ['up', 'down']);
    up = path.resolve(baseDir, read.text(read.required(files, 'up', `${key}.trace.`), `${key}.trace.up`));
    down = path.resolve(baseDir, read.text(read.required(files, 'down', `${key}.trace.`), `${key}.trace.down`));
  }
  const numberOr = (field: string): number | undefined => (spec[field] === undefined ? undefined : read.number(spec[field], `${key}.${field}`, 0, Number.MAX_SAFE_INTEGER, 'a number'));
  const options = {
    name: spec.name === undefined ? path.basename(down) : read.name(spec.name, `${key}.name`),
    upTraceFile: up,
    downTraceFile: down,
    delayMs: numberOr('delayMs'),
    jitterMs: numberOr('jitterMs'),
    lossRate: numberOr('lossRate'),
    queueLimitBytes: numberOr('queueLimitBytes'),
    natIdleTimeoutMs: numberOr('natIdleTimeoutMs'),
  };
  return read.wrap(key, () => {
    // Parse the traces now, so a bad file fails before any gateway starts.
    loadMahimahiTrace(up);
    loadMahimahiTrace(down);
    return traceProfile(options);
  });
}

/** Field access with messages of the form "<source>: <key> must be <expected>, got <value>". */
class FieldReader {
  constructor(private readonly source: string) {}

  fail(key: string, expected: string, value: unknown): never {
    throw new ConfigError(`${this.source}: ${key} must be ${expected}, got ${describeValue(value)}`);
  }

  /** Runs `build` and prefixes any pushlab error it throws with the source and key. */
  wrap<T>(key: string, build: () => T): T {
    try {
      return build();
    } catch (error) {
      if (error instanceof PushlabError) throw new ConfigError(`${this.source}: ${key}: ${error.message}`, { cause: error });
      throw error;
    }
  }

  required(record: Record<string, unknown>, field: string, prefix = ''): unknown {
    const value = record[field];
    if (value === undefined) throw new ConfigError(`${this.source}: ${prefix}${field} is missing`);
    return value;
  }

  object(value: unknown, key: string, allowed: readonly string[]): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(key || 'the scenario', 'a JSON object', value);
    const record = value as Record<string, unknown>;
    const unknown = Object.keys(record).filter((field) => !allowed.includes(field));
    if (unknown.length > 0) {
      const where = key === '' ? 'the top level' : key;
      throw new ConfigError(`${this.source}: unknown key(s) ${unknown.map((field) => JSON.stringify(field)).join(', ')} in ${where}; allowed keys: ${allowed.join(', ')}`);
    }
    return record;
  }

  list<T>(value: unknown, key: string, item: (value: unknown, key: string) => T): T[] {
    if (!Array.isArray(value) || value.length === 0) this.fail(key, 'a non-empty array', value);
    return value.map((entry, index) => item(entry, `${key}[${index}]`));
  }

  unique(names: readonly string[], key: string): void {
    const seen = new Set<string>();
    for (const [index, name] of names.entries()) {
      if (seen.has(name)) throw new ConfigError(`${this.source}: ${key}[${index}] repeats the name ${JSON.stringify(name)}; names must be unique`);
      seen.add(name);
    }
  }

  integer(value: unknown, key: string, min: number, max: number, unit: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) this.fail(key, `an integer from ${min} to ${max} (${unit})`, value);
    return value;
  }

  number(value: unknown, key: string, min: number, max: number, unit: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) this.fail(key, `a number from ${min} to ${max} (${unit})`, value);
    return value;
  }

  string(value: unknown, key: string): string {
    if (typeof value !== 'string') this.fail(key, 'a string', value);
    return value;
  }

  text(value: unknown, key: string): string {
    if (typeof value !== 'string' || value.length === 0) this.fail(key, 'a non-empty string', value);
    return value;
  }

  /** Reads a name used in file names and report rows: letters, digits, '.', '_' and '-'. */
  name(value: unknown, key: string): string {
    if (typeof value !== 'string' || !NAME_PATTERN.test(value)) this.fail(key, 'a name of letters, digits, ".", "_" or "-"', value);
    return value;
  }
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : String(value);
}
