// Benchmark: unicast push with ack over TCP + TLS 1.3 on loopback.
//
// The gateway runs in a child process and publishes through its library API, keeping a fixed number
// of messages unacknowledged per device. PushClients in this process receive and ack. The baseline,
// measured in the same run, is a raw TLS 1.3 server in a child process that sends messages of the
// same size over the same number of connections with the same window, with no session layer
// (bench/baseline-child.ts). Run standalone (prints the results only):
//
//   node --import tsx bench/push-ack-tcp.ts [--connections 200] [--windows 1,16] [--payload 100]
//                                           [--rounds 3] [--warmup-ms 1500] [--measure-ms 5000]
import { medianOfRounds, measureAlternating, openBaseline, openPushlab, pushFrameBytes, tlsFiles, withSystems } from './lib/push-scenario.js';
import { comparisonTable, describeTiming, parsePushOptions, PUSH_TIMING_DEFAULTS, type PushBenchOptions } from './lib/push-tables.js';
import { describeMachine, isMainModule, isoDate, num, ratio, targetsTable, type BenchReport, type TargetCheck } from './lib/report.js';

export const NAME = 'push-ack-tcp';

/** Acked messages per gateway CPU-second the session core is expected to reach. */
const TARGET_ACKED_PER_CPU_SECOND = 150_000;

export const PUSH_ACK_DEFAULTS: PushBenchOptions = { ...PUSH_TIMING_DEFAULTS, connections: 200, windows: [1, 16], payloadBytes: 100 };

export async function run(options: PushBenchOptions = PUSH_ACK_DEFAULTS, command = `node --import tsx bench/${NAME}.ts`): Promise<BenchReport> {
  const tls = await tlsFiles();
  const date = isoDate();
  const log = (line: string): void => console.error(`[${NAME}] ${line}`);
  const common = { tls, connections: options.connections, payloadBytes: options.payloadBytes };

  const sections: string[] = [];
  const summary: string[] = [];
  const targets: TargetCheck[] = [];
  let publishedPerDevice = 0;
  await withSystems(
    [() => openBaseline({ ...common, label: 'baseline' }), () => openPushlab({ ...common, label: 'pushlab', coalescing: true })],
    async ([baselineSystem, pushlabSystem]) => {
      for (const window of options.windows) {
        const [baselineRounds, pushlabRounds] = await measureAlternating([baselineSystem!, pushlabSystem!], window, options, log);
        const pushlab = { label: 'pushlab', rounds: pushlabRounds!, median: medianOfRounds(pushlabRounds!) };
        const baseline = { label: 'baseline', rounds: baselineRounds!, median: medianOfRounds(baselineRounds!) };
        const inFlight = num(window * options.connections);
        sections.push(`#### ${window} unacknowledged message${window === 1 ? '' : 's'} per connection (${inFlight} in flight)\n\n${comparisonTable(pushlab, baseline, 'server')}`);

        const p = pushlab.median;
        summary.push(
          `window ${window}: pushlab ${num(p.ackedPerSecond)} acked/s, ${num(p.ackedPerCpuSecond)} per gateway CPU-s ` +
            `(${ratio(p.ackedPerCpuSecond, baseline.median.ackedPerCpuSecond)} of baseline), p50 ${num(p.latency.p50Ms, 2)} ms, p99 ${num(p.latency.p99Ms, 2)} ms`,
        );
        targets.push({
          name: `acked msgs per gateway CPU-second, window ${window}`,
          target: `≥ ${num(TARGET_ACKED_PER_CPU_SECOND)}`,
          measured: num(p.ackedPerCpuSecond),
          met: p.ackedPerCpuSecond >= TARGET_ACKED_PER_CPU_SECOND,
        });
      }
      publishedPerDevice = pushlabSystem!.messagesSent / options.connections;
    },
  );

  const body = [
    `Workload: ${options.connections} TLS 1.3 connections on loopback and ${options.payloadBytes}-byte payloads, which make ` +
      `${pushFrameBytes(options.payloadBytes)}-byte push frames. The baseline sends messages of the same size. ${describeTiming(options)} ` +
      'The gateway publishes through its library API and tops every device up to the window once per event-loop turn. ' +
      'Latency runs from the publish call (pushlab) or the write (baseline) to the ack that covers the message. ' +
      'The server is the gateway for pushlab and the raw TLS server for the baseline. ' +
      `Over the whole run the gateway published ${num(publishedPerDevice)} messages per device, warm-ups included.`,
    ...sections,
    targetsTable(targets),
  ].join('\n\n');
  return { name: NAME, title: 'Push with ack over TCP + TLS', command, date, machine: describeMachine(), body, targets, summary };
}

if (isMainModule(import.meta.url)) {
  const argv = process.argv.slice(2);
  const report = await run(parsePushOptions(argv, PUSH_ACK_DEFAULTS), ['node --import tsx', `bench/${NAME}.ts`, ...argv].join(' '));
  console.log(report.body);
}
