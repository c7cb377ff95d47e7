import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TraceInvalidError } from '../../src/emulator/errors.js';
import { loadMahimahiTrace, parseMahimahiTrace, TraceCapacity } from '../../src/emulator/mahimahi-trace.js';

/** Folder with recorded cellular traces, when this machine has one. */
const RECORDED_TRACE_DIR = process.env.PUSHLAB_TRACE_DIR ?? '/work/shared/traces';

function expectInvalid(text: string, line: number | undefined, message: RegExp): void {
  let caught: unknown;
  try {
    parseMahimahiTrace(text, 'case');
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(TraceInvalidError);
  const error = caught as TraceInvalidError;
  expect(error.code).toBe('TRACE_INVALID');
  expect(error.line).toBe(line);
  expect(error.message).toMatch(message);
}

/** Writes a constant-rate trace: `perMs` opportunities in each of `lengthMs` milliseconds. */
function writeConstantTrace(dir: string, name: string, perMs: number, lengthMs: number): string {
  const lines: number[] = [];
  for (let ms = 1; ms <= lengthMs; ms++) for (let k = 0; k < perMs; k++) lines.push(ms);
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

describe('mahimahi trace', () => {
  it('parser reads a valid trace', () => {
    const trace = parseMahimahiTrace('0\n3\n3\n10\n', 'valid');
    expect([...trace.timestampsMs]).toEqual([0, 3, 3, 10]);
    expect(trace.periodMs).toBe(10);
    // 4 opportunities x 1500 bytes x 8 bits in 10 ms = 4800 kbit/s.
    expect(trace.meanKbps).toBe(4800);
  });

  it('parser accepts CRLF and a missing final newline', () => {
    expect([...parseMahimahiTrace('1\r\n2\r\n5').timestampsMs]).toEqual([1, 2, 5]);
  });

  it('parser rejects invalid lines with their number', () => {
    expectInvalid('1\n2\nabc\n4\n', 3, /line 3: expected an unsigned integer/);
    expectInvalid('1\n\n4\n', 2, /line 2/);
    expectInvalid('1\n-2\n', 2, /line 2/);
    expectInvalid('1\n2.5\n', 2, /line 2/);
    expectInvalid('5\n7\n6\n', 3, /line 3: timestamp 6 is below the previous one \(7\)/);
  });

  it('parser rejects empty and zero-length traces', () => {
    expectInvalid('', undefined, /no timestamps/);
    expectInvalid('0\n0\n', undefined, /last timestamp is 0/);
  });

  it('loader reports an unreadable path', () => {
    expect(() => loadMahimahiTrace(join(tmpdir(), 'pushlab-no-such-trace', 'x.up'))).toThrow(TraceInvalidError);
  });

  it('capacity repeats the trace every period', () => {
    // One opportunity at 2 ms and one at 4 ms; the period is 4 ms.
    const capacity = new TraceCapacity(parseMahimahiTrace('2\n4\n'), 1000);
    const departures = [];
    for (let i = 0; i < 6; i++) departures.push(capacity.transmit(1500, 1000));
    expect(departures).toEqual([1002, 1004, 1006, 1008, 1010, 1012]);
  });

  it('capacity skips opportunities that found no data', () => {
    const capacity = new TraceCapacity(parseMahimahiTrace('2\n4\n'), 0);
    expect(capacity.transmit(1500, 0)).toBe(2);
    // Idle until 41 ms: the opportunities in between are lost; 41 falls in cycle 10 (40..44).
    expect(capacity.transmit(1500, 41)).toBe(42);
    expect(capacity.transmit(1500, 41)).toBe(44);
  });

  it('capacity shares an opportunity between small packets and splits large ones', () => {
    const capacity = new TraceCapacity(parseMahimahiTrace('1\n2\n3\n4\n'), 0);
    expect(capacity.transmit(500, 0)).toBe(1);
    expect(capacity.transmit(1000, 0)).toBe(1);
    expect(capacity.transmit(2000, 0)).toBe(3);
    expect(capacity.transmit(1000, 0)).toBe(3);
    expect(capacity.transmit(1, 0)).toBe(4);
  });

  it('generated trace file matches its rate', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pushlab-trace-'));
    const path = writeConstantTrace(dir, 'constant.down', 2, 100);
    const trace = loadMahimahiTrace(path);
    expect(trace.timestampsMs.length).toBe(200);
    // 2 x 1500 bytes per ms = 24 000 kbit/s.
    expect(trace.meanKbps).toBe(24_000);
    expect(loadMahimahiTrace(path)).toBe(trace);
  });

  it('recorded cellular traces parse when present', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pushlab-trace-'));
    const generated = loadMahimahiTrace(writeConstantTrace(dir, 'lte-like.up', 1, 1000));
    expect(generated.meanKbps).toBe(12_000);

    // Mean uplink capacities published with the AT&T LTE and Verizon EVDO recordings.
    const recorded: Array<[string, number]> = [
      ['ATT-LTE-driving-2016.up', 1910],
      ['Verizon-EVDO-driving.up', 840],
    ];
    for (const [name, meanKbps] of recorded) {
      const path = join(RECORDED_TRACE_DIR, name);
      if (!existsSync(path)) continue;
      const trace = loadMahimahiTrace(path);
      expect(trace.periodMs).toBeGreaterThan(60_000);
      expect(Math.abs(trace.meanKbps - meanKbps)).toBeLessThan(meanKbps * 0.05);
    }
  });
});
