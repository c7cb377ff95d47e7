// Shared pieces of the CLI: the I/O it writes to, flag parsing on node:util parseArgs, help layout.
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';

export interface CliIo {
  /** Machine-readable output: the ready line, tokens, help. */
  stdout: { write(text: string): unknown };
  /** Human-readable errors; logs go to stderr through pino. */
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
}

export const EXIT_OK = 0;
/** A runtime failure: a port already in use, a gateway that failed to start or stop. */
export const EXIT_FAILURE = 1;
/** Invalid usage or configuration: an unknown flag, a bad value, an unreadable config file. */
export const EXIT_USAGE = 2;

export interface FlagSpec {
  name: string;
  type: 'string' | 'boolean';
  multiple?: boolean;
  /** Placeholder for the value in help text. */
  value?: string;
  help: string;
}

export type FlagValues = Record<string, string | boolean | string[] | undefined>;

const HELP_FLAG: FlagSpec = { name: 'help', type: 'boolean', help: 'Show this help and exit.' };

/**
 * Parses `argv` against `flags` (plus --help). Unknown flags, missing values and stray positional
 * arguments become a ConfigError that names the flag and the command's help.
 */
export function parseFlags(command: string, argv: string[], flags: readonly FlagSpec[]): FlagValues {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const flag of [...flags, HELP_FLAG]) {
    options[flag.name] = flag.multiple ? { type: flag.type, multiple: true } : { type: flag.type };
  }
  try {
    // allowNegative turns --no-coalescing into { coalescing: false } (Node 20.16 and later).
    const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false, allowNegative: true });
    return values as FlagValues;
  } catch (error) {
    const reason = describeParseError(error);
    throw new ConfigError(`${reason}\nRun 'pushlab ${command} --help' for the accepted options.`, { cause: error });
  }
}

/** Node's parseArgs messages, shortened to their first sentence; an unknown flag gets its own wording. */
function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  const unknownFlag = /^Unknown option '([^']+)'/.exec(message);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknownFlag) return `unknown option ${unknownFlag[1]}`;
  return message.split('\n')[0] ?? message;
}

/** Wraps `text` to `width` columns, indenting continuation lines by `indent` spaces. */
function wrap(text: string, width: number, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line.length > 0 && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line.length > 0 ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

const HELP_WIDTH = 100;

/** Lays out a command's usage line, summary and flag table for --help. */
export function formatHelp(usage: string, summary: string, flags: readonly FlagSpec[], footer = ''): string {
  const all = [...flags, HELP_FLAG];
  const labels = all.map((flag) => {
    const negation = flag.type === 'boolean' && flag.name !== 'help' ? `, --no-${flag.name}` : '';
    return `  --${flag.name}${flag.value ? ` ${flag.value}` : ''}${negation}`;
  });
  const width = Math.max(...labels.map((label) => label.length)) + 2;
  const rows = all.map((flag, index) => {
    const label = labels[index] ?? '';
    const repeat = flag.multiple ? ' (repeatable)' : '';
    return `${label.padEnd(width)}${wrap(flag.help + repeat, HELP_WIDTH, width)}`;
  });
  return [`Usage: ${usage}`, '', summary, '', 'Options:', ...rows, ...(footer ? ['', footer] : []), ''].join('\n');
}
