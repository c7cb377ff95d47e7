// Options and result tables shared by the push benchmarks (push-ack-tcp, coalescing, quic-vs-tcp).
import { parseArgs } from 'node:util';
import type { PushRunResult, RoundTiming } from './push-scenario.js';
import { bytes, num, ratio, table } from './report.js';

export interface PushBenchOptions extends RoundTiming {
  connections: number;
  /** Unacknowledged messages per connection; each window is measured separately. */
  windows: number[];
  payloadBytes: number;
}

export const PUSH_TIMING_DEFAULTS: RoundTiming = { rounds: 3, warmupMs: 1_500, firstWarmupMs: 2_000, measureMs: 5_000 };

export const PUSH_OPTIONS_HELP = '[--connections 200] [--windows 1,16] [--payload 100] [--rounds 3] [--warmup-ms 1500] [--measure-ms 5000]';

export function parsePushOptions(argv: string[], defaults: PushBenchOptions): PushBenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      connections: { type: 'string' },
      windows: { type: 'string' },
      payload: { type: 'string' },
      rounds: { type: 'string' },
      'warmup-ms': { type: 'string' },
      'measure-ms': { type: 'string' },
    },
  });
  const positive = (name: string, raw: string | undefined, fallback: number): number => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got "${raw}"`);
    return value;
  };
  return {
    ...defaults,
    connections: positive('connections', values.connections, defaults.connections),
    windows: values.windows === undefined ? defaults.windows : values.windows.split(',').map((w) => positive('windows', w, 1)),
    payloadBytes: positive('payload', values.payload, defaults.payloadBytes),
    rounds: positive('rounds', values.rounds, defaults.rounds),
    warmupMs: positive('warmup-ms', values['warmup-ms'], defaults.warmupMs),
    measureMs: positive('measure-ms', values['measure-ms'], defaults.measureMs),
  };
}

export function describeTiming(options: PushBenchOptions): string {
  const seconds = (ms: number): string => num(ms / 1000, ms % 1000 === 0 ? 0 : 1);
  return (
    `Each window runs ${options.rounds} alternating round${options.rounds === 1 ? '' : 's'} per system, each with ${seconds(options.warmupMs)} s of warm-up ` +
    `(${seconds(options.warmupMs + options.firstWarmupMs)} s in the first round) and ${seconds(options.measureMs)} s of measurement. ` +
    'The tables show the median of each row over the rounds.'
  );
}

export interface ComparedColumn {
  label: string;
  rounds: PushRunResult[];
  median: PushRunResult;
}

function cores(value: number | null): string {
  return value === null ? 'n/a' : num(value, 2);
}

function range(values: number[]): string {
  return `${num(Math.min(...values))} – ${num(Math.max(...values))}`;
}

/** Renders `subject` and `reference` side by side with their ratio; `server` names the server process in row labels. */
export function comparisonTable(subject: ComparedColumn, reference: ComparedColumn, server: string): string {
  const s = subject.median;
  const r = reference.median;
  const row = (label: string, a: number, b: number, digits = 0, lowerIsBetter = false): string[] => [
    label,
    num(a, digits),
    num(b, digits),
    ratio(a, b) + (lowerIsBetter ? ' (lower is better)' : ''),
  ];
  return table(
    ['metric', subject.label, reference.label, `${subject.label} / ${reference.label}`],
    [
      row('acked msgs/s', s.ackedPerSecond, r.ackedPerSecond),
      row(`acked msgs per ${server} CPU-second`, s.ackedPerCpuSecond, r.ackedPerCpuSecond),
      [`… lowest – highest round`, range(subject.rounds.map((x) => x.ackedPerCpuSecond)), range(reference.rounds.map((x) => x.ackedPerCpuSecond)), ''],
      row('send→ack latency p50, ms', s.latency.p50Ms, r.latency.p50Ms, 2, true),
      row('send→ack latency p99, ms', s.latency.p99Ms, r.latency.p99Ms, 2, true),
      row('transport writes per message', s.writesPerMessage, r.writesPerMessage, 3, true),
      [`${server} CPU, cores`, cores(s.serverCores), cores(r.serverCores), ''],
      ['client process CPU, cores', cores(s.clientCores), cores(r.clientCores), ''],
      ['other processes on the machine, cores', cores(s.otherCores), cores(r.otherCores), ''],
      [`${server} RSS, highest reading`, bytes(s.serverRssBytes), bytes(r.serverRssBytes), ''],
    ],
  );
}

/**
 * Renders several systems side by side, each with its ratio to the first column (the reference)
 * for the throughput rows. `server` names the server process in row labels.
 */
export function transportsTable(columns: ComparedColumn[], server: string): string {
  const reference = columns[0]!;
  const values = (read: (r: PushRunResult) => number, digits = 0): string[] => columns.map((c) => num(read(c.median), digits));
  const ratios = (read: (r: PushRunResult) => number): string[] => columns.map((c) => ratio(read(c.median), read(reference.median)));
  return table(
    ['metric', ...columns.map((c) => c.label)],
    [
      ['acked msgs/s', ...values((r) => r.ackedPerSecond)],
      [`… relative to ${reference.label}`, ...ratios((r) => r.ackedPerSecond)],
      [`acked msgs per ${server} CPU-second`, ...values((r) => r.ackedPerCpuSecond)],
      [`… relative to ${reference.label}`, ...ratios((r) => r.ackedPerCpuSecond)],
      ['… lowest – highest round', ...columns.map((c) => range(c.rounds.map((x) => x.ackedPerCpuSecond)))],
      ['publish→ack latency p50, ms', ...values((r) => r.latency.p50Ms, 2)],
      ['publish→ack latency p99, ms', ...values((r) => r.latency.p99Ms, 2)],
      [`${server} CPU, cores`, ...columns.map((c) => cores(c.median.serverCores))],
      ['client process CPU, cores', ...columns.map((c) => cores(c.median.clientCores))],
      ['other processes on the machine, cores', ...columns.map((c) => cores(c.median.otherCores))],
      [`${server} RSS, highest reading`, ...columns.map((c) => bytes(c.median.serverRssBytes))],
    ],
  );
}
