// Benchmark: the gain of small-frame coalescing in the gateway.
//
// The push-with-ack workload of push-ack-tcp runs against two gateway children: one with
// GatewayOptions.coalescing.enabled and one without, which is the in-run baseline. Writes per
// message come from pushlab_frames_written_total (a batch counts as one write) divided by
// pushlab_pushes_sent_total. Run standalone (prints the results only):
//
//   node --import tsx bench/coalescing.ts [--connections 200] [--windows 4,16] [--payload 100]
//                                         [--rounds 3] [--warmup-ms 1500] [--measure-ms 5000]
import { medianOfRounds, measureAlternating, openPushlab, tlsFiles, withSystems } from './lib/push-scenario.js';
import { comparisonTable, describeTiming, parsePushOptions, PUSH_TIMING_DEFAULTS, type PushBenchOptions } from './lib/push-tables.js';
import { describeMachine, isMainModule, isoDate, num, ratio, type BenchReport } from './lib/report.js';

export const NAME = 'coalescing';

export const COALESCING_DEFAULTS: PushBenchOptions = { ...PUSH_TIMING_DEFAULTS, connections: 200, windows: [4, 16], payloadBytes: 100 };

export async function run(options: PushBenchOptions = COALESCING_DEFAULTS, command = `node --import tsx bench/${NAME}.ts`): Promise<BenchReport> {
  const tls = await tlsFiles();
  const date = isoDate();
  const log = (line: string): void => console.error(`[${NAME}] ${line}`);
  const common = { tls, connections: options.connections, payloadBytes: options.payloadBytes };

  const sections: string[] = [];
  const summary: string[] = [];
  const publishedPerDevice = { on: 0, off: 0 };
  await withSystems(
    [() => openPushlab({ ...common, label: 'coalescing off', coalescing: false }), () => openPushlab({ ...common, label: 'coalescing on', coalescing: true })],
    async ([offSystem, onSystem]) => {
      for (const window of options.windows) {
        const [offRounds, onRounds] = await measureAlternating([offSystem!, onSystem!], window, options, log);
        const on = { label: 'coalescing on', rounds: onRounds!, median: medianOfRounds(onRounds!) };
        const off = { label: 'coalescing off', rounds: offRounds!, median: medianOfRounds(offRounds!) };
        sections.push(`#### ${window} unacknowledged message${window === 1 ? '' : 's'} per device (${num(window * options.connections)} in flight)\n\n${comparisonTable(on, off, 'gateway')}`);
        summary.push(
          `window ${window}: ${num(on.median.writesPerMessage, 3)} vs ${num(off.median.writesPerMessage, 3)} writes per push; with coalescing ` +
            `${ratio(on.median.ackedPerSecond, off.median.ackedPerSecond)} msgs/s and ${ratio(on.median.ackedPerCpuSecond, off.median.ackedPerCpuSecond)} msgs per gateway CPU-s`,
        );
      }
      publishedPerDevice.on = onSystem!.messagesSent / options.connections;
      publishedPerDevice.off = offSystem!.messagesSent / options.connections;
    },
  );

  const body = [
    `Workload: the push-ack-tcp workload, with ${options.connections} PushClients per gateway over TLS 1.3 on loopback and ${options.payloadBytes}-byte payloads. ` +
      'One gateway has coalescing on (the default: batches up to 16 KiB, flushed at the end of the event-loop turn) and the other has it off. ' +
      `${describeTiming(options)} Both gateways run for the whole benchmark and take turns under load. Over the run they published ` +
      `${num(publishedPerDevice.on)} (on) and ${num(publishedPerDevice.off)} (off) messages per device, warm-ups included. No target is set for this comparison.`,
    ...sections,
  ].join('\n\n');
  return { name: NAME, title: 'Small-frame coalescing', command, date, machine: describeMachine(), body, targets: [], summary };
}

if (isMainModule(import.meta.url)) {
  const argv = process.argv.slice(2);
  const report = await run(parsePushOptions(argv, COALESCING_DEFAULTS), ['node --import tsx', `bench/${NAME}.ts`, ...argv].join(' '));
  console.log(report.body);
}
