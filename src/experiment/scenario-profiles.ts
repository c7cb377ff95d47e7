// The `profiles` entries of a scenario: which link each cell runs on, and the link events (timed
// blackholes, NAT rebinding) that happen on it during the publish phase. docs/EXPERIMENTS.md
// describes the forms.
import path from 'node:path';
import { loadMahimahiTrace, resolveProfile, traceProfile, type BlackholeDirection, type LinkProfile } from '../emulator/index.js';
import type { FieldReader } from './field-reader.js';

/** Drops everything in `direction` for `durationMs`, `atMs` after the publish phase starts. */
export interface BlackholeEvent {
  type: 'blackhole';
  atMs: number;
  durationMs: number;
  direction: BlackholeDirection;
}

/**
 * Retires every NAT mapping `atMs` after the publish phase starts, as when a device's address
 * changes. UDP flows continue from new source ports; TCP connections die.
 */
export interface RebindEvent {
  type: 'rebind';
  atMs: number;
}

export type LinkEvent = BlackholeEvent | RebindEvent;

/** One entry of `profiles`: the link, its events and its publish phase length. */
export interface ProfileEntry {
  profile: LinkProfile;
  events: LinkEvent[];
  /** Publish phase length of this profile's cells, in ms: the entry's own or the scenario's. */
  durationMs: number;
}

const DIRECTION_KEYS = ['delayMs', 'jitterMs', 'lossRate', 'bandwidthKbps', 'burstBytes', 'queueLimitBytes', 'traceFile', 'reorder'] as const;
const TRACE_KEYS = ['trace', 'name', 'delayMs', 'jitterMs', 'lossRate', 'queueLimitBytes', 'natIdleTimeoutMs', 'events', 'durationMs'] as const;
const INLINE_PROFILE_KEYS = ['name', 'description', 'up', 'down', 'natIdleTimeoutMs', 'events', 'durationMs'] as const;
const BUILT_IN_KEYS = ['profile', 'name', 'events', 'durationMs'] as const;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Reads a profile entry: a built-in name, {"profile": name, …}, {"trace": path | {up, down}, …},
 * or an inline LinkProfile object. Every object form may carry `durationMs` (the publish phase of
 * its cells, default `scenarioDurationMs`) and `events`, each of which must end within it.
 */
export function readProfileEntry(read: FieldReader, value: unknown, key: string, baseDir: string, scenarioDurationMs: number): ProfileEntry {
  if (typeof value === 'string') return { profile: read.wrap(key, () => resolveProfile(value)), events: [], durationMs: scenarioDurationMs };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    read.fail(key, 'a built-in profile name, a {"profile": …}, {"trace": …} or inline profile object', value);
  }
  const record = value as Record<string, unknown>;
  const durationMs = record.durationMs === undefined ? scenarioDurationMs : read.integer(record.durationMs, `${key}.durationMs`, 1_000, 3_600_000, 'ms');
  const events = record.events === undefined ? [] : readEvents(read, record.events, `${key}.events`, durationMs);
  if ('trace' in record) return { profile: readTraceProfile(read, record, key, baseDir), events, durationMs };
  if ('profile' in record) return { profile: readBuiltInProfile(read, record, key), events, durationMs };
  return { profile: readInlineProfile(read, record, key, baseDir), events, durationMs };
}

function readBuiltInProfile(read: FieldReader, record: Record<string, unknown>, key: string): LinkProfile {
  const spec = read.object(record, key, BUILT_IN_KEYS);
  const base = read.text(spec.profile, `${key}.profile`);
  const profile = read.wrap(key, () => resolveProfile(base));
  if (spec.name !== undefined) profile.name = read.name(spec.name, `${key}.name`);
  return profile;
}

function readInlineProfile(read: FieldReader, record: Record<string, unknown>, key: string, baseDir: string): LinkProfile {
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

/** Reads a list of link events, sorted by start time. */
export function readEvents(read: FieldReader, value: unknown, key: string, durationMs: number): LinkEvent[] {
  if (!Array.isArray(value)) read.fail(key, 'an array of events', value);
  const events = value.map((entry, index) => readEvent(read, entry, `${key}[${index}]`, durationMs));
  return events.sort((a, b) => a.atMs - b.atMs);
}

function readEvent(read: FieldReader, value: unknown, key: string, durationMs: number): LinkEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) read.fail(key, 'an event object', value);
  const type = (value as Record<string, unknown>).type;
  if (type === 'rebind') {
    const spec = read.object(value, key, ['type', 'atMs']);
    return { type, atMs: read.integer(read.required(spec, 'atMs', `${key}.`), `${key}.atMs`, 0, durationMs, 'ms after the publish phase starts') };
  }
  if (type !== 'blackhole') read.fail(`${key}.type`, '"blackhole" or "rebind"', type);
  const spec = read.object(value, key, ['type', 'atMs', 'durationMs', 'direction']);
  return { type, ...readWindow(read, spec, key, durationMs) };
}

/** Reads {atMs, durationMs, direction} of a blackhole that must end within the publish phase. */
export function readWindow(read: FieldReader, spec: Record<string, unknown>, key: string, durationMs: number): Omit<BlackholeEvent, 'type'> {
  const atMs = read.integer(read.required(spec, 'atMs', `${key}.`), `${key}.atMs`, 0, durationMs, 'ms after the publish phase starts');
  const length = read.integer(read.required(spec, 'durationMs', `${key}.`), `${key}.durationMs`, 1, MAX_TIMER_MS, 'ms');
  if (atMs + length > durationMs) {
    read.fail(`${key}.durationMs`, `at most ${durationMs - atMs} ms so the outage ends within the publish phase (durationMs ${durationMs} − ${key}.atMs ${atMs})`, length);
  }
  const direction = spec.direction === undefined ? 'both' : spec.direction;
  if (direction !== 'up' && direction !== 'down' && direction !== 'both') read.fail(`${key}.direction`, '"up", "down" or "both"', direction);
  return { atMs, durationMs: length, direction };
}
