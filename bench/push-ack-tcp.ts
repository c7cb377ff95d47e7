// Benchmark: unicast push with ack over TCP + TLS 1.3 on loopback.
//
// The gateway runs in a child process and publishes through its library API, keeping a fixed number
// of messages unacknowledged per device; 200 PushClients in this process receive and ack. The
// baseline, measured in the same run, is a raw TLS 1.3 server in a child process that sends
// messages of the same size over the same number of connections with the same window, with no
// session layer (bench/baseline-child.ts). Run standalone:
//
//   node --import tsx bench/push-ack-tcp.ts [--connections 200] [--windows 1,16] [--payload 100]
//                                           [--warmup-ms 3000] [--measure-ms 10000]
import { parseArgs } from 'node:util';
import { pushFrameBytes, runBaseline, runPushlab, tlsFiles, type PushRunResult, type PushWorkload } from './lib/push-scenario.js';
import { describeMachine, isMainModule, isoDate, num, ratio, table, targetsTable, bytes, type BenchReport, type TargetCheck } from './lib/report.js';

export const NAME = 'push-ack-tcp';

/** Acked messages per gateway CPU-second the session core is expected to reach. */
const TARGET_ACKED_PER_CPU_SECOND = 150_000;

export interface PushAckOptions {
  connections: number;
  windows: number[];
  payloadBytes: number;
  warmupMs: number;
  measureMs: number;
}

export const PUSH_ACK_DEFAULTS: PushAckOptions = { connections: 200, windows: [1, 16], payloadBytes: 100, warmupMs: 3_000, measureMs: 10_000 };

function cores(value: number | null): string {
  return value === null ? 'n/a' : num(value, 2);
}

function comparisonTable(pushlab: PushRunResult, baseline: PushRunResult): string {
  const row = (label: string, p: number, b: number, digits = 0, higherIsBetter = true): string[] => [
    label,
    num(p, digits),
    num(b, digits),
    ratio(p, b) + (higherIsBetter ? '' : ' (lower is better)'),
  ];
  return table(
    ['metric', 'pushlab', 'baseline', 'pushlab / baseline'],
    [
      row('acked msgs/s', pushlab.ackedPerSecond, baseline.ackedPerSecond),
      row('acked msgs per server CPU-second', pushlab.ackedPerCpuSecond, baseline.ackedPerCpuSecond),
      row('send→ack latency p50, ms', pushlab.latency.p50Ms, baseline.latency.p50Ms, 2, false),
      row('send→ack latency p99, ms', pushlab.latency.p99Ms, baseline.latency.p99Ms, 2, false),
      row('transport writes per message', pushlab.writesPerMessage, baseline.writesPerMessage, 3, false),
      ['server CPU, cores', cores(pushlab.serverCores), cores(baseline.serverCores), ''],
      ['client process CPU, cores', cores(pushlab.clientCores), cores(baseline.clientCores), ''],
      ['other processes on the machine, cores', cores(pushlab.otherCores), cores(baseline.otherCores), ''],
      ['server RSS at the end', bytes(pushlab.serverRssBytes), bytes(baseline.serverRssBytes), ''],
    ],
  );
}

export async function run(options: PushAckOptions = PUSH_ACK_DEFAULTS, command = `node --import tsx bench/${NAME}.ts`): Promise<BenchReport> {
  const tls = await tlsFiles();
  const date = isoDate();
  const sections: string[] = [];
  const summary: string[] = [];
  const targets: TargetCheck[] = [];
  const frameBytes = pushFrameBytes(options.payloadBytes);

  for (const window of options.windows) {
    const workload: PushWorkload = {
      connections: options.connections,
      inflightPerConnection: window,
      payloadBytes: options.payloadBytes,
      warmupMs: options.warmupMs,
      measureMs: options.measureMs,
    };
    console.error(`[${NAME}] window ${window}: baseline`);
    const baseline = await runBaseline(workload, { tls, label: 'baseline' });
    console.error(`[${NAME}] window ${window}: pushlab`);
    const pushlab = await runPushlab(workload, { tls, coalescing: true, label: 'pushlab' });

    sections.push(
      `#### ${window} unacknowledged message${window === 1 ? '' : 's'} per connection (${num(window * options.connections)} in flight)\n\n${comparisonTable(pushlab, baseline)}`,
    );
    summary.push(
      `window ${window}: pushlab ${num(pushlab.ackedPerSecond)} acked/s, ${num(pushlab.ackedPerCpuSecond)} per gateway CPU-s ` +
        `(${ratio(pushlab.ackedPerCpuSecond, baseline.ackedPerCpuSecond)} of baseline), p50 ${num(pushlab.latency.p50Ms, 2)} ms, p99 ${num(pushlab.latency.p99Ms, 2)} ms`,
    );
    targets.push({
      name: `acked msgs per gateway CPU-second, window ${window}`,
      target: `≥ ${num(TARGET_ACKED_PER_CPU_SECOND)}`,
      measured: num(pushlab.ackedPerCpuSecond),
      met: pushlab.ackedPerCpuSecond >= TARGET_ACKED_PER_CPU_SECOND,
    });
  }

  const body = [
    `Workload: ${options.connections} TLS 1.3 connections on loopback, ${options.payloadBytes}-byte payloads ` +
      `(${frameBytes}-byte push frames; the baseline sends messages of the same size), ` +
      `${num(options.warmupMs / 1000, 0)} s warm-up, then ${num(options.measureMs / 1000, 0)} s measured. ` +
      'The gateway publishes through its library API and tops every device up to the window once per event-loop turn; ' +
      'latency runs from the publish call (pushlab) or the write (baseline) to the ack that covers the message.',
    ...sections,
    targetsTable(targets),
  ].join('\n\n');

  return { name: NAME, title: 'Push with ack over TCP + TLS', command, date, machine: describeMachine(), body, targets, summary };
}

export function parsePushAckArgs(argv: string[]): PushAckOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      connections: { type: 'string' },
      windows: { type: 'string' },
      payload: { type: 'string' },
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
    connections: positive('connections', values.connections, PUSH_ACK_DEFAULTS.connections),
    windows: values.windows === undefined ? PUSH_ACK_DEFAULTS.windows : values.windows.split(',').map((w) => positive('windows', w, 1)),
    payloadBytes: positive('payload', values.payload, PUSH_ACK_DEFAULTS.payloadBytes),
    warmupMs: positive('warmup-ms', values['warmup-ms'], PUSH_ACK_DEFAULTS.warmupMs),
    measureMs: positive('measure-ms', values['measure-ms'], PUSH_ACK_DEFAULTS.measureMs),
  };
}

if (isMainModule(import.meta.url)) {
  const report = await run(parsePushAckArgs(process.argv.slice(2)), ['node --import tsx', `bench/${NAME}.ts`, ...process.argv.slice(2)].join(' '));
  console.log(report.body);
}
