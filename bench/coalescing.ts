// Benchmark: the gain of small-frame coalescing in the gateway.
//
// The push-with-ack workload of push-ack-tcp runs twice per window against a gateway child: once with
// GatewayOptions.coalescing.enabled and once without. The run without coalescing is the in-run
// baseline. Writes per message come from pushlab_frames_written_total (a batch counts as one write)
// divided by pushlab_pushes_sent_total. Run standalone:
//
//   node --import tsx bench/coalescing.ts [--connections 200] [--windows 4,16] [--payload 100]
//                                         [--warmup-ms 3000] [--measure-ms 10000]
import { parsePushAckArgs, type PushAckOptions } from './push-ack-tcp.js';
import { runPushlab, tlsFiles, type PushRunResult, type PushWorkload } from './lib/push-scenario.js';
import { describeMachine, isMainModule, isoDate, num, ratio, table, bytes, type BenchReport } from './lib/report.js';

export const NAME = 'coalescing';

export const COALESCING_DEFAULTS: PushAckOptions = { connections: 200, windows: [4, 16], payloadBytes: 100, warmupMs: 3_000, measureMs: 10_000 };

function comparisonTable(on: PushRunResult, off: PushRunResult): string {
  const row = (label: string, a: number, b: number, digits = 0, note = ''): string[] => [label, num(a, digits), num(b, digits), ratio(a, b) + note];
  return table(
    ['metric', 'coalescing on', 'coalescing off', 'on / off'],
    [
      row('transport writes per push', on.writesPerMessage, off.writesPerMessage, 3, ' (lower is better)'),
      row('acked msgs/s', on.ackedPerSecond, off.ackedPerSecond),
      row('acked msgs per gateway CPU-second', on.ackedPerCpuSecond, off.ackedPerCpuSecond),
      row('publish→ack latency p50, ms', on.latency.p50Ms, off.latency.p50Ms, 2, ' (lower is better)'),
      row('publish→ack latency p99, ms', on.latency.p99Ms, off.latency.p99Ms, 2, ' (lower is better)'),
      ['gateway CPU, cores', num(on.serverCores, 2), num(off.serverCores, 2), ''],
      ['client process CPU, cores', num(on.clientCores, 2), num(off.clientCores, 2), ''],
      ['other processes on the machine, cores', on.otherCores === null ? 'n/a' : num(on.otherCores, 2), off.otherCores === null ? 'n/a' : num(off.otherCores, 2), ''],
      ['gateway RSS at the end', bytes(on.serverRssBytes), bytes(off.serverRssBytes), ''],
    ],
  );
}

export async function run(options: PushAckOptions = COALESCING_DEFAULTS, command = `node --import tsx bench/${NAME}.ts`): Promise<BenchReport> {
  const tls = await tlsFiles();
  const date = isoDate();
  const sections: string[] = [];
  const summary: string[] = [];
  for (const window of options.windows) {
    const workload: PushWorkload = {
      connections: options.connections,
      inflightPerConnection: window,
      payloadBytes: options.payloadBytes,
      warmupMs: options.warmupMs,
      measureMs: options.measureMs,
    };
    console.error(`[${NAME}] window ${window}: coalescing off`);
    const off = await runPushlab(workload, { tls, coalescing: false, label: 'coalescing off' });
    console.error(`[${NAME}] window ${window}: coalescing on`);
    const on = await runPushlab(workload, { tls, coalescing: true, label: 'coalescing on' });
    sections.push(`#### ${window} unacknowledged message${window === 1 ? '' : 's'} per device (${num(window * options.connections)} in flight)\n\n${comparisonTable(on, off)}`);
    summary.push(
      `window ${window}: ${num(on.writesPerMessage, 3)} vs ${num(off.writesPerMessage, 3)} writes per push, ` +
        `${ratio(on.ackedPerSecond, off.ackedPerSecond)} msgs/s and ${ratio(on.ackedPerCpuSecond, off.ackedPerCpuSecond)} msgs per gateway CPU-s with coalescing`,
    );
  }
  const body = [
    `Workload: the push-ack-tcp workload (${options.connections} PushClients over TLS 1.3 on loopback, ${options.payloadBytes}-byte payloads, ` +
      `${num(options.warmupMs / 1000, 0)} s warm-up, ${num(options.measureMs / 1000, 0)} s measured) against a gateway with coalescing on ` +
      '(the default: 16 KiB batches, flushed at the end of the event-loop turn) and off. No target is set for this comparison.',
    ...sections,
  ].join('\n\n');
  return { name: NAME, title: 'Small-frame coalescing', command, date, machine: describeMachine(), body, targets: [], summary };
}

if (isMainModule(import.meta.url)) {
  const argv = process.argv.slice(2);
  const parsed = parsePushAckArgs(argv);
  const options = argv.includes('--windows') ? parsed : { ...parsed, windows: COALESCING_DEFAULTS.windows };
  const report = await run(options, ['node --import tsx', `bench/${NAME}.ts`, ...argv].join(' '));
  console.log(report.body);
}
