// Typed errors of the link emulator. They extend the project's root error class, so callers can
// switch on `code` ('TRACE_INVALID', 'EMULATOR_FAILED') like on every other pushlab error.
import { PushlabError } from '../errors.js';

/** A mahimahi trace file that cannot be read or does not follow the format. */
export class TraceInvalidError extends PushlabError {
  override readonly name = 'TraceInvalidError';

  constructor(
    /** The file path, or a label for a trace parsed from memory. */
    readonly source: string,
    /** 1-based line number of the offending line; undefined when the whole file is at fault. */
    readonly line: number | undefined,
    detail: string,
    options: { cause?: unknown } = {},
  ) {
    super('TRACE_INVALID', `invalid mahimahi trace ${source}${line === undefined ? '' : ` line ${line}`}: ${detail}`, options);
  }
}

export type EmulatorFailureKind = 'unsupported' | 'closed' | 'listen-failed';

/** An emulator operation that failed or that the chosen protocol does not support. */
export class EmulatorError extends PushlabError {
  override readonly name = 'EmulatorError';

  constructor(
    readonly kind: EmulatorFailureKind,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super('EMULATOR_FAILED', message, options);
  }
}
