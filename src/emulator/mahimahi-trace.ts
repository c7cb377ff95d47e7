// Reader for mahimahi link traces and the capacity schedule they describe.
//
// Format (as mm-link reads it): one unsigned integer per line, a time in milliseconds from the
// start of the trace. Each line is one opportunity to send 1500 bytes across the link in that
// millisecond, so a value repeated on k lines means k opportunities in that millisecond.
// Timestamps never decrease, the trace must not be empty, and the last timestamp must be above
// zero because it is also the period: when the trace runs out it starts again, shifted by the
// last timestamp. An opportunity that finds no data waiting is lost. Bytes of one packet may span
// several opportunities, and several small packets may share one.
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { TraceInvalidError } from './errors.js';

/** Bytes one delivery opportunity can carry. */
export const TRACE_OPPORTUNITY_BYTES = 1500;

/** A parsed trace. Immutable and safe to share between link directions. */
export interface MahimahiTrace {
  /** The file path, or the label given to parseMahimahiTrace. */
  readonly source: string;
  /** Opportunity times in ms from the trace start, nondecreasing. */
  readonly timestampsMs: Float64Array;
  /** Length of one repetition in ms: the last timestamp. */
  readonly periodMs: number;
  /** Mean capacity over one period, in kbit/s. */
  readonly meanKbps: number;
}

const DIGITS = /^[0-9]+$/;

/**
 * Parses trace text. Throws TraceInvalidError naming the 1-based line for a line that is not an
 * unsigned integer (empty lines included, except one trailing newline) or that goes back in time.
 */
export function parseMahimahiTrace(text: string, source = '<memory>'): MahimahiTrace {
  const lines = text.split('\n');
  // A final newline leaves one empty string behind; it is not a line of the trace.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  const timestamps = new Float64Array(lines.length);
  let previous = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!DIGITS.test(line)) {
      const shown = line.length > 40 ? `${line.slice(0, 40)}…` : line;
      throw new TraceInvalidError(source, i + 1, `expected an unsigned integer (ms), got ${JSON.stringify(shown)}`);
    }
    const value = Number(line);
    if (!Number.isSafeInteger(value)) {
      throw new TraceInvalidError(source, i + 1, `timestamp ${line} is too large`);
    }
    if (value < previous) {
      throw new TraceInvalidError(source, i + 1, `timestamp ${value} is below the previous one (${previous}); timestamps must not decrease`);
    }
    timestamps[i] = value;
    previous = value;
  }

  if (timestamps.length === 0) {
    throw new TraceInvalidError(source, undefined, 'the trace contains no timestamps');
  }
  const periodMs = timestamps[timestamps.length - 1] as number;
  if (periodMs === 0) {
    throw new TraceInvalidError(source, undefined, 'the last timestamp is 0, but a trace must last longer than 0 ms');
  }

  const meanKbps = (timestamps.length * TRACE_OPPORTUNITY_BYTES * 8) / periodMs;
  return { source, timestampsMs: timestamps, periodMs, meanKbps };
}

interface CachedTrace {
  mtimeMs: number;
  size: number;
  trace: MahimahiTrace;
}

const traceCache = new Map<string, CachedTrace>();

/**
 * Reads and parses a trace file from any path. Parsed traces are cached by absolute path and
 * reloaded when the file's size or modification time changes, because real traces run to a
 * megabyte and a profile change should not parse them again.
 */
export function loadMahimahiTrace(path: string): MahimahiTrace {
  const absolute = resolve(path);
  let text: string;
  let stats: { mtimeMs: number; size: number };
  try {
    stats = statSync(absolute);
    const cached = traceCache.get(absolute);
    if (cached !== undefined && cached.mtimeMs === stats.mtimeMs && cached.size === stats.size) return cached.trace;
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new TraceInvalidError(path, undefined, 'the file cannot be read; check the path', { cause: error });
  }
  const trace = parseMahimahiTrace(text, path);
  traceCache.set(absolute, { mtimeMs: stats.mtimeMs, size: stats.size, trace });
  return trace;
}

/** Index of the first timestamp >= value, or the array length when there is none. */
function lowerBound(values: Float64Array, value: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((values[middle] as number) < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The bottleneck of one link direction driven by a trace: hands out delivery opportunities in
 * FIFO order. The trace's time 0 is `startMs` on the caller's clock.
 */
export class TraceCapacity {
  private cycle = 0;
  private index = 0;
  private bytesLeft = TRACE_OPPORTUNITY_BYTES;

  constructor(
    readonly trace: MahimahiTrace,
    readonly startMs: number,
  ) {}

  /** Time of the opportunity at the cursor, on the caller's clock. */
  private cursorTimeMs(): number {
    return this.startMs + this.cycle * this.trace.periodMs + (this.trace.timestampsMs[this.index] as number);
  }

  private advance(): void {
    this.index++;
    this.bytesLeft = TRACE_OPPORTUNITY_BYTES;
    if (this.index === this.trace.timestampsMs.length) {
      this.index = 0;
      this.cycle++;
    }
  }

  /** Moves the cursor to the first opportunity at or after `timeMs`; the ones skipped are lost. */
  private seek(timeMs: number): void {
    const relative = Math.max(0, timeMs - this.startMs);
    const cycle = Math.floor(relative / this.trace.periodMs);
    const index = lowerBound(this.trace.timestampsMs, relative - cycle * this.trace.periodMs);
    this.bytesLeft = TRACE_OPPORTUNITY_BYTES;
    if (index === this.trace.timestampsMs.length) {
      this.cycle = cycle + 1;
      this.index = 0;
    } else {
      this.cycle = cycle;
      this.index = index;
    }
  }

  /**
   * Sends `sizeBytes` that are ready at `readyMs` and returns the time their last byte crosses
   * the link. Calls must come in FIFO order; a packet never overtakes an earlier one.
   */
  transmit(sizeBytes: number, readyMs: number): number {
    if (this.cursorTimeMs() < readyMs) this.seek(readyMs);

    let left = sizeBytes;
    let departureMs = this.cursorTimeMs();
    while (left > 0) {
      const taken = Math.min(this.bytesLeft, left);
      left -= taken;
      this.bytesLeft -= taken;
      departureMs = this.cursorTimeMs();
      if (this.bytesLeft === 0) this.advance();
    }
    return departureMs;
  }
}
