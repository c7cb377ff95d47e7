// Benchmark: push with ack over QUIC against TCP + TLS, with UDP and WebTransport rows, in one run.
//
// The push-ack-tcp workload (the gateway child publishes through its library API and keeps a fixed
// number of messages unacknowledged per device; PushClients in this process receive and ack) runs
// against one gateway child per transport. All gateways are opened first and then measured in
// alternating rounds, so drift in the machine's background load hits each of them alike. The
// reference column is TCP + TLS. Fewer connections than push-ack-tcp keep the QUIC rounds, whose
// per-packet cost in @matrixai/quic is high, inside the time budget. Run standalone (prints the
// results only):
//
//   node --import tsx bench/quic-vs-tcp.ts [--transports tcp,quic,udp,webtransport] [--connections 50]
//                                          [--windows 8] [--payload 100] [--rounds 3] [--warmup-ms 1500]
//                                          [--measure-ms 4000]
import { builtinTransports } from '../transports/index.js';
import { medianOfRounds, measureAlternating, openPushlab, pushFrameBytes, tlsFiles, withSystems, type PushSystem } from './lib/push-scenario.js';
import { describeTiming, parsePushOptions, PUSH_TIMING_DEFAULTS, transportsTable, type ComparedColumn, type PushBenchOptions } from './lib/push-tables.js';
import { describeMachine, isMainModule, isoDate, num, ratio, targetsTable, type BenchReport, type TargetCheck } from './lib/report.js';

export const NAME = 'quic-vs-tcp';

/** QUIC's acked msgs/s must reach this share of TCP + TLS's in the same run. */
const TARGET_QUIC_SHARE = 0.5;

export interface QuicVsTcpOptions extends PushBenchOptions {
  /** Built-in transport names; the first is the reference column and must be tcp for the target row. */
  transports: string[];
}

export const QUIC_VS_TCP_DEFAULTS: QuicVsTcpOptions = {
  ...PUSH_TIMING_DEFAULTS,
  measureMs: 4_000,
  connections: 50,
  windows: [8],
  payloadBytes: 100,
  transports: ['tcp', 'quic', 'udp', 'webtransport'],
};

/**
 * Paragraph on the QUIC gateway's CPU use, from one CPU profile taken separately. Runs do not
 * measure these numbers again, so the text names the command and conditions of that profile.
 */
const WHY_QUIC_IS_SLOW =
  '**Where QUIC\'s CPU goes.** One CPU profile of the QUIC gateway child shows the cost in @matrixai/quic 2.0.9, not in pushlab\'s transport. ' +
  'It was taken with `PUSHLAB_BENCH_CPU_PROFILE=DIR node --import tsx bench/quic-vs-tcp.ts --transports tcp,quic --rounds 1` on an otherwise idle machine, ' +
  'where TCP + TLS reached 134,587 and QUIC 9,688 acked msgs/s (gateway 1.00 and 0.90 cores, client process 0.52 and 0.87 cores). ' +
  '`QUICConnection.recv` (`node_modules/@matrixai/quic/dist/QUICConnection.js`) takes `recvLock.withF` for every received UDP packet. ' +
  'Each acquisition in @matrixai/async-locks 5.0.2 runs `setupTimedCancellable` (`dist/utils.js`), which creates an AbortController, a `Timer` with promise chains ' +
  'and an `ErrorAsyncLocksTimeout` with a captured stack trace, even when no timeout is set, and the release aborts the timer with a DOMException. ' +
  'That lock path took about 16 % of the child\'s busy CPU time, garbage collection about 12 %, and the per-packet stream scan `processStreams` about 8 %. ' +
  'The client side runs the same library, so on 2 cores the QUIC clients in the bench process took almost as much CPU as the gateway. ' +
  'No setting of the transport changes this per-packet cost. The self time of pushlab\'s own QUIC code (framing, the guarded socket) was under 5 % of the busy time.';

/** Column titles: what each registered transport name runs. */
const LABELS: Record<string, string> = {
  tcp: 'TCP + TLS 1.3',
  'tcp-plain': 'TCP (no TLS)',
  quic: 'QUIC',
  udp: 'UDP (pushlab)',
  webtransport: 'WebTransport',
};

function label(transport: string): string {
  return LABELS[transport] ?? transport;
}

export async function run(options: QuicVsTcpOptions = QUIC_VS_TCP_DEFAULTS, command = `node --import tsx bench/${NAME}.ts`): Promise<BenchReport> {
  const tls = await tlsFiles();
  const date = isoDate();
  const log = (line: string): void => console.error(`[${NAME}] ${line}`);
  const common = { tls, connections: options.connections, payloadBytes: options.payloadBytes, coalescing: true };

  const sections: string[] = [];
  const summary: string[] = [];
  const targets: TargetCheck[] = [];
  const publishedPerDevice: string[] = [];
  const openers = options.transports.map((transport) => async (): Promise<PushSystem> => {
    log(`opening ${transport}: gateway child and ${options.connections} PushClients`);
    return openPushlab({ ...common, label: label(transport), transport });
  });
  await withSystems(openers, async (systems) => {
    for (const window of options.windows) {
      const rounds = await measureAlternating(systems, window, options, log);
      const columns: ComparedColumn[] = systems.map((system, index) => ({ label: system.label, rounds: rounds[index]!, median: medianOfRounds(rounds[index]!) }));
      const inFlight = num(window * options.connections);
      sections.push(`#### ${window} unacknowledged message${window === 1 ? '' : 's'} per connection (${inFlight} in flight)\n\n${transportsTable(columns, 'gateway')}`);

      const reference = columns[0]!;
      for (const column of columns) {
        const m = column.median;
        summary.push(
          `window ${window}, ${column.label}: ${num(m.ackedPerSecond)} acked/s (${ratio(m.ackedPerSecond, reference.median.ackedPerSecond)} of ${reference.label}), ` +
            `${num(m.ackedPerCpuSecond)} per gateway CPU-s, p99 ${num(m.latency.p99Ms, 2)} ms`,
        );
      }
      const quicIndex = options.transports.indexOf('quic');
      if (options.transports[0] === 'tcp' && quicIndex > 0) {
        const share = columns[quicIndex]!.median.ackedPerSecond / reference.median.ackedPerSecond;
        targets.push({
          name: `QUIC acked msgs/s relative to TCP + TLS, window ${window}`,
          target: `≥ ${TARGET_QUIC_SHARE.toFixed(2)}×`,
          measured: `${share.toFixed(2)}×`,
          met: share >= TARGET_QUIC_SHARE,
        });
      }
    }
    for (const system of systems) publishedPerDevice.push(`${system.label} ${num(system.messagesSent / options.connections)}`);
  });

  const body = [
    `Workload: ${options.connections} PushClients per transport on loopback, ${options.payloadBytes}-byte payloads (` +
      `${pushFrameBytes(options.payloadBytes)}-byte push frames), coalescing on. Each transport has its own gateway child with one listener; ` +
      'the gateway publishes through its library API and tops every device up to the window once per event-loop turn. ' +
      `${describeTiming(options)} Latency runs from the publish call to the ack that covers the message, as the gateway measures it. ` +
      'TCP + TLS is the reference column; ratios are against it. ' +
      'The UDP row is pushlab\'s own reliable UDP transport (Noise NK handshake, ChaCha20-Poly1305), not QUIC. ' +
      'The QUIC and WebTransport rows both run on @matrixai/quic 2.0.9, and so does their client side in this process, ' +
      'so the client process CPU row shows whether the clients, not the gateway, were the limit. ' +
      `Over the run each gateway published this many messages per device, warm-ups included: ${publishedPerDevice.join(', ')}.`,
    ...sections,
    ...(options.transports.includes('quic') ? [WHY_QUIC_IS_SLOW] : []),
    targets.length > 0 ? targetsTable(targets) : 'No target row: the QUIC target needs tcp as the first transport and quic among the others.',
  ].join('\n\n');
  return { name: NAME, title: 'Push with ack: QUIC against TCP + TLS', command, date, machine: describeMachine(), body, targets, summary };
}

/** Parses `--transports a,b` and the push options; every transport must be registered. */
export function parseQuicVsTcpArgs(argv: string[]): QuicVsTcpOptions {
  const rest: string[] = [];
  let transports = QUIC_VS_TCP_DEFAULTS.transports;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--transports' || arg.startsWith('--transports=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (value === undefined || value === '') throw new Error('--transports needs a comma-separated list, for example tcp,quic');
      transports = value.split(',');
    } else {
      rest.push(arg);
    }
  }
  const registry = builtinTransports();
  const unknown = transports.filter((name) => !registry.has(name));
  if (unknown.length > 0) throw new Error(`--transports names unknown transports ${unknown.join(', ')}; registered: ${registry.names().join(', ')}`);
  return { ...parsePushOptions(rest, QUIC_VS_TCP_DEFAULTS), transports };
}

if (isMainModule(import.meta.url)) {
  const argv = process.argv.slice(2);
  const report = await run(parseQuicVsTcpArgs(argv), ['node --import tsx', `bench/${NAME}.ts`, ...argv].join(' '));
  console.log(report.body);
}
