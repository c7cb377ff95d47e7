// Benchmark: delivery under 30 % loss in each direction, UDP against TCP + TLS against QUIC, with
// the same message workload.
//
// Runs one experiment-runner cell per transport (src/experiment/, docs/EXPERIMENTS.md). Each cell
// has a fresh gateway process behind an emulated link with 20 ms each way and 30 % loss from the
// first packet, handshakes included. 20 devices receive a fixed number of small publishes sent
// through the gateway's HTTP API. The packet backend runs when this machine can run it (root,
// /dev/net/tun, the TUN addon), so kernel TCP loses real segments. Otherwise the relay runs, and
// the report notes that TCP then gets late chunks instead of loss. Completion time comes from
// polling the cell's delivery count. Run standalone (prints the results only):
//
//   node --import tsx bench/loss-30.ts [--transports udp,tcp,quic] [--devices 20] [--messages 400]
//                                      [--backend auto|packet|relay]
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { runExperiment } from '../src/experiment/experiment.js';
import { formatMs } from '../src/experiment/report.js';
import type { CellResult, ExperimentReport } from '../src/experiment/results.js';
import { BACKEND_PREFERENCES, parseScenario, type BackendPreference } from '../src/experiment/scenario.js';
import { stallThresholdMs } from '../src/experiment/stalls.js';
import { builtinTransports } from '../transports/index.js';
import { CompletionProgress } from './lib/completion-progress.js';
import { describeMachine, isMainModule, isoDate, num, table, targetsTable, type BenchReport, type TargetCheck } from './lib/report.js';

export const NAME = 'loss-30';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOSS_RATE = 0.3;
const ONE_WAY_DELAY_MS = 20;
/** Publish phase length; the publish rate follows from the message count. */
const PUBLISH_MS = 5_000;
const PAYLOAD_BYTES = 100;

export interface Loss30Options {
  transports: string[];
  devices: number;
  /** Messages published in total, spread evenly over the publish phase. */
  messages: number;
  /** Link backend: 'auto' takes the packet backend where this machine can run it. */
  backend: BackendPreference;
}

export const LOSS_30_DEFAULTS: Loss30Options = { transports: ['udp', 'tcp', 'quic'], devices: 20, messages: 400, backend: 'auto' };

const LABELS: Record<string, string> = { tcp: 'TCP + TLS', 'tcp-plain': 'TCP (no TLS)', quic: 'QUIC', udp: 'UDP (pushlab)', webtransport: 'WebTransport' };

/** Builds the run's scenario and validates it with the experiment runner's own parser. */
function buildScenario(options: Loss30Options) {
  const direction = { delayMs: ONE_WAY_DELAY_MS, jitterMs: 0, lossRate: LOSS_RATE };
  return parseScenario(
    {
      name: 'bench-loss-30',
      description: 'The loss-30 benchmark: 30% loss in each direction from the first packet.',
      seed: 42,
      backend: options.backend,
      transports: options.transports,
      profiles: [{ name: 'loss-30', description: `${ONE_WAY_DELAY_MS} ms each way, ${LOSS_RATE * 100}% loss in each direction, handshakes included`, up: direction, down: direction }],
      devices: options.devices,
      connectConcurrency: options.devices,
      connectTimeoutMs: 40_000,
      measureMemory: false,
      durationMs: PUBLISH_MS,
      publishRatePerSec: options.messages / (PUBLISH_MS / 1000),
      highPriorityShare: 0,
      payloadBytes: PAYLOAD_BYTES,
      // The gateway's default heartbeat: a session dies only after 45 s of silence, so the rows show
      // how each transport recovers from loss by itself.
      heartbeat: { intervalMs: 30_000, timeoutMs: 15_000 },
      // At this loss rate TCP's backed-off retransmission timeouts held single messages back for
      // over 40 s in trial runs. The bound leaves room for that and still ends a stuck cell.
      drainTimeoutMs: 60_000,
      client: { attemptTimeoutMs: 10_000, backoffInitialMs: 500, backoffMaxMs: 4_000 },
    },
    'bench/loss-30.ts',
    REPO_ROOT,
  );
}

function retransmissions(cell: CellResult): string {
  const rtx = cell.retransmissions;
  if (cell.ipProtocol === 'tcp') {
    if (rtx.kernelTcp === null) return 'not measured (relay)';
    return `${num(rtx.kernelTcp.gateway.retransSegs)} / ${num(rtx.kernelTcp.client.retransSegs)} kernel RetransSegs`;
  }
  const device = rtx.deviceTransport;
  if (device === null || device.retransmissions === null) return '–';
  return `– / ${num(device.retransmissions)} (${device.source ?? 'transport counters'})`;
}

function resultsTable(report: ExperimentReport, completion: Map<string, number>): string {
  const ms = (value: number | undefined | null): string => (value === undefined || value === null ? '–' : formatMs(value));
  const row = (label: string, read: (cell: CellResult) => string): string[] => [label, ...report.cells.map(read)];
  return table(
    ['metric', ...report.cells.map((cell) => LABELS[cell.transport] ?? cell.transport)],
    [
      row('status', (c) => (c.status === 'passed' ? 'passed' : `**failed** (${c.failure?.phase ?? '?'})`)),
      row('delivered / sent', (c) => `${num(c.messages.delivered)} / ${num(c.messages.published)}`),
      row('duplicates delivered to the application', (c) => num(c.messages.duplicated)),
      row('publish→delivery latency p50, ms', (c) => ms(c.latencyMs?.p50)),
      row('… p95, ms', (c) => ms(c.latencyMs?.p95)),
      row('… p99, ms', (c) => ms(c.latencyMs?.p99)),
      row('… max, ms', (c) => ms(c.latencyMs?.max)),
      row('completion: publish start → last delivery, ms', (c) => ms(completion.get(`${c.transport} × ${c.profile}`))),
      row('connect (dial → welcome) p50 / p95, ms', (c) => (c.connectMs === null ? '–' : `${formatMs(c.connectMs.p50)} / ${formatMs(c.connectMs.p95)}`)),
      row('stalls: count / total s', (c) => (c.stalls === null ? '–' : `${num(c.stalls.count)} / ${num(c.stalls.totalMs / 1000, 1)}`)),
      row('longest stall of one device, ms', (c) => ms(c.stalls?.maxMs)),
      row('retransmissions gateway / devices', retransmissions),
      row('kernel TCP retransmission timeouts (TCPTimeouts) gateway / devices', (c) => {
        const kernel = c.retransmissions.kernelTcp;
        return c.ipProtocol === 'tcp' && kernel !== null ? `${num(kernel.gateway.timeouts)} / ${num(kernel.client.timeouts)}` : '–';
      }),
      row('link loss up / down (units)', (c) => (c.linkLoss === null ? '–' : `${num(c.linkLoss.up)} / ${num(c.linkLoss.down)}`)),
      row('heartbeat timeouts client / gateway', (c) => `${num(c.heartbeat.clientTimeouts)} / ${num(c.heartbeat.gatewayTimeouts)}`),
      row('reconnects', (c) => num(c.reconnects)),
    ],
  );
}

export async function run(options: Loss30Options = LOSS_30_DEFAULTS, command = `node --import tsx bench/${NAME}.ts`): Promise<BenchReport> {
  const date = isoDate();
  const scenario = buildScenario(options);
  const progress = new CompletionProgress({ write: (text: string) => process.stderr.write(text.replace(/^(?=.)/gm, `[${NAME}] `)) });
  const report = await runExperiment(scenario, {
    // stderr, like the progress lines, so stdout carries only the results.
    logger: pino({ level: 'warn', name: NAME }, pino.destination({ fd: 2, sync: true })),
    progress,
    gatewayLogLevel: 'warn',
    onGatewayLog: (line) => console.error(`[${NAME}] gateway ${line}`),
    onHelperLog: (line) => console.error(`[${NAME}] ${line}`),
  });

  const backendNote =
    report.backend === 'packet'
      ? 'Link backend: **packet**. The devices and each gateway run in their own network namespaces, joined by TUN devices through the bench process, ' +
        'which drops 30 % of the IP packets in each direction. Kernel TCP loses real segments and recovers with its own retransmissions.'
      : `Link backend: **relay**, ${report.backendFallbackReason === null ? 'as requested' : `because the packet backend is unavailable here (${report.backendFallbackReason})`}. ` +
        'UDP-based transports lose 30 % of their datagrams. The TCP relay forwards a byte stream, so TCP never loses a segment: a chunk drawn as lost ' +
        'arrives one estimated retransmission timeout late instead, and the TCP row understates what TCP suffers on a real lossy link.';
  const targets: TargetCheck[] = report.cells.map((cell) => ({
    name: `${LABELS[cell.transport] ?? cell.transport}: delivered / sent`,
    target: 'all, no duplicates',
    measured: `${cell.messages.delivered} / ${cell.messages.published}, ${cell.messages.duplicated} duplicates`,
    met: cell.status === 'passed' && cell.messages.published > 0 && cell.messages.lost === 0 && cell.messages.duplicated === 0,
  }));
  const body = [
    `Workload: ${options.devices} devices per transport, ${num(options.messages)} publishes of ${PAYLOAD_BYTES}-byte payloads through the gateway's HTTP API, ` +
      `spread evenly over ${PUBLISH_MS / 1000} s, each to a device picked at random (seeded, the same sequence for every transport). ` +
      `The link has ${ONE_WAY_DELAY_MS} ms of delay and ${LOSS_RATE * 100} % loss in each direction from its first packet, so the handshakes run under loss too. ` +
      'Each transport runs in its own experiment cell with a fresh gateway, one after the other. ' +
      'The heartbeat is the gateway default (30 s interval + 15 s grace), so a side declares its session dead only after 45 s without receiving anything. ' +
      'Up to then each transport recovers from loss by itself; the heartbeat-timeout and reconnect rows show where a session did not. ' +
      'Latency runs from the gateway\'s publish time to the first arrival at the device\'s application, over every message. ' +
      'Completion time runs from the start of the publish phase to the last first arrival, read by polling the delivery count every 10 ms. ' +
      `A message stalls its device when it arrives more than ${stallThresholdMs(scenario.profiles[0]!)} ms after its publish (docs/EXPERIMENTS.md, Stalls). ` +
      'This is one run with one seed. The tail depends on which retransmissions are lost again, and Linux doubles TCP\'s retransmission timeout after each ' +
      'lost retransmission of a segment (RFC 6298 section 5.5). So p99, max and completion time of every row vary between runs, and TCP\'s vary most.',
    backendNote,
    resultsTable(report, progress.completionMs),
    ...report.failures.map((failure) => `Failure: ${failure}`),
    targetsTable(targets),
  ].join('\n\n');
  const summary = report.cells.map(
    (cell) =>
      `${cell.transport} (${cell.backend}): ${cell.messages.delivered}/${cell.messages.published} delivered, latency p50/p95/p99 ` +
      `${cell.latencyMs ? [cell.latencyMs.p50, cell.latencyMs.p95, cell.latencyMs.p99].map(formatMs).join('/') : '–'} ms, ` +
      `completion ${formatMs(progress.completionMs.get(`${cell.transport} × ${cell.profile}`) ?? Number.NaN)} ms`,
  );
  return { name: NAME, title: 'Delivery under 30 % loss', command, date, machine: describeMachine(), body, targets, summary };
}

export function parseLoss30Args(argv: string[]): Loss30Options {
  const { values } = parseArgs({
    args: argv,
    options: { transports: { type: 'string' }, devices: { type: 'string' }, messages: { type: 'string' }, backend: { type: 'string' } },
  });
  const integer = (name: string, raw: string | undefined, fallback: number, min: number, max: number): number => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
    return value;
  };
  const transports = values.transports === undefined ? LOSS_30_DEFAULTS.transports : values.transports.split(',');
  const registry = builtinTransports();
  const unknown = transports.filter((name) => !registry.has(name));
  if (unknown.length > 0) throw new Error(`--transports names unknown transports ${unknown.join(', ')}; registered: ${registry.names().join(', ')}`);
  const backend = values.backend ?? LOSS_30_DEFAULTS.backend;
  if (!BACKEND_PREFERENCES.includes(backend as BackendPreference)) throw new Error(`--backend must be one of ${BACKEND_PREFERENCES.join(', ')}, got "${backend}"`);
  return {
    transports,
    backend: backend as BackendPreference,
    devices: integer('devices', values.devices, LOSS_30_DEFAULTS.devices, 2, 500),
    messages: integer('messages', values.messages, LOSS_30_DEFAULTS.messages, 1, 10_000),
  };
}

if (isMainModule(import.meta.url)) {
  const argv = process.argv.slice(2);
  const report = await run(parseLoss30Args(argv), ['node --import tsx', `bench/${NAME}.ts`, ...argv].join(' '));
  console.log(report.body);
}
