// Field access for the scenario loader: each reader checks one value and throws a ConfigError whose
// message names the file and the key, of the form "<source>: <key> must be <expected>, got <value>".
import { ConfigError, PushlabError } from '../errors.js';

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Field access with messages of the form "<source>: <key> must be <expected>, got <value>". */
export class FieldReader {
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

  boolean(value: unknown, key: string): boolean {
    if (typeof value !== 'boolean') this.fail(key, 'true or false', value);
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
