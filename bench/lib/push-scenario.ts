// One push-with-ack run: a server child (the pushlab gateway or the raw TLS baseline), clients in
// this process, a warm-up, then a measurement window bracketed by two samples of the child's
// counters and CPU time.
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type tls from 'node:tls';
import type { PushClient } from '../../src/client/client.js';
import { encodeFrame } from '../../src/codec/frame-codec.js';
import { HmacTokenAuthority } from '../../src/gateway/auth.js';
import { createSelfSignedCertificate } from '../../src/tls/self-signed.js';
import { connectBaselineClients, connectPushClients, destroyAll, deviceRefs } from './clients.js';
import type { LatencySummary } from './latency.js';
import type { BaselineCommands, GatewayCommands, LoadSample, TlsFiles } from './protocol.js';
import { sleep } from './report.js';
import { BenchChild } from './rpc.js';
import { busyCores, readSystemCpu } from './system-cpu.js';

const GATEWAY_CHILD = fileURLToPath(new URL('../gateway-child.ts', import.meta.url));
const BASELINE_CHILD = fileURLToPath(new URL('../baseline-child.ts', import.meta.url));

export interface PushWorkload {
  connections: number;
  inflightPerConnection: number;
  payloadBytes: number;
  warmupMs: number;
  measureMs: number;
}

export interface PushRunResult {
  system: string;
  seconds: number;
  acked: number;
  ackedPerSecond: number;
  /** Acked messages per CPU-second of the server process (user + system). */
  ackedPerCpuSecond: number;
  /** Server CPU-seconds per wall-clock second: 1.0 is one core fully busy. */
  serverCores: number;
  /** The same for this process, which runs every client. */
  clientCores: number;
  /** Busy cores of every other process on the machine during the window; null where /proc/stat is missing. */
  otherCores: number | null;
  writesPerMessage: number;
  latency: LatencySummary;
  serverRssBytes: number;
}

export async function tlsFiles(): Promise<TlsFiles> {
  const certificate = await createSelfSignedCertificate();
  return { cert: certificate.cert, key: certificate.key };
}

/** Size of the Push frame the gateway sends for a payload of `payloadBytes`, so the baseline sends the same bytes. */
export function pushFrameBytes(payloadBytes: number): number {
  return encodeFrame({
    push: { messageId: randomUUID(), seq: 50_000, payload: new Uint8Array(payloadBytes), publishedAtMs: Date.now() },
  }).length;
}

async function measureWindow(
  sample: () => Promise<LoadSample>,
  workload: PushWorkload,
  system: string,
): Promise<PushRunResult> {
  await sleep(workload.warmupMs);
  await sample(); // discards the warm-up latency samples
  const first = await sample();
  const clientCpuStart = process.cpuUsage();
  const systemStart = readSystemCpu();
  await sleep(workload.measureMs);
  const last = await sample();
  const clientCpu = process.cpuUsage(clientCpuStart);
  const systemCores = busyCores(systemStart, readSystemCpu(), (last.atMs - first.atMs) / 1000);

  const seconds = (last.atMs - first.atMs) / 1000;
  const acked = last.acked - first.acked;
  const cpuSeconds = (last.cpuUserUs - first.cpuUserUs + last.cpuSystemUs - first.cpuSystemUs) / 1e6;
  const sent = last.sent - first.sent;
  const serverCores = cpuSeconds / seconds;
  const clientCores = (clientCpu.user + clientCpu.system) / 1e6 / seconds;
  if (acked === 0) throw new Error(`${system}: no message was acknowledged during the ${seconds.toFixed(1)} s window`);
  return {
    system,
    seconds,
    acked,
    ackedPerSecond: acked / seconds,
    ackedPerCpuSecond: acked / cpuSeconds,
    serverCores,
    clientCores,
    otherCores: systemCores === null ? null : Math.max(0, systemCores - serverCores - clientCores),
    writesPerMessage: sent > 0 ? (last.writes - first.writes) / sent : 0,
    latency: last.latency,
    serverRssBytes: last.rssBytes,
  };
}

/** Runs the workload against a pushlab gateway in a child process. */
export async function runPushlab(workload: PushWorkload, options: { tls: TlsFiles; coalescing: boolean; label: string }): Promise<PushRunResult> {
  const child = BenchChild.spawn<GatewayCommands>('gateway', GATEWAY_CHILD);
  const secret = randomBytes(32);
  const authority = new HmacTokenAuthority(secret);
  let clients: PushClient[] = [];
  try {
    const { port } = await child.request('start', {
      ...options.tls,
      secret: secret.toString('hex'),
      coalescing: options.coalescing,
      heartbeatIntervalMs: 600_000,
    });
    const devices = deviceRefs(workload.connections, 'push');
    clients = await connectPushClients({ port, ca: options.tls.cert, devices, authority });
    await child.request('loadStart', { devices, inflightPerDevice: workload.inflightPerConnection, payloadBytes: workload.payloadBytes });
    const result = await measureWindow(() => child.request('sample', {}), workload, options.label);
    await child.request('loadStop', {});
    return result;
  } finally {
    for (const client of clients) client.close();
    await child.stop();
  }
}

/** Runs the same workload against the raw TLS baseline server in a child process. */
export async function runBaseline(workload: PushWorkload, options: { tls: TlsFiles; label: string }): Promise<PushRunResult> {
  const child = BenchChild.spawn<BaselineCommands>('baseline', BASELINE_CHILD);
  let sockets: tls.TLSSocket[] = [];
  try {
    const { port } = await child.request('startPush', {
      ...options.tls,
      messageBytes: pushFrameBytes(workload.payloadBytes),
      inflightPerConnection: workload.inflightPerConnection,
    });
    sockets = await connectBaselineClients({ port, ca: options.tls.cert, count: workload.connections });
    const { connections } = await child.request('loadStart', { expectedConnections: workload.connections });
    if (connections !== workload.connections) throw new Error(`baseline server sees ${connections} of ${workload.connections} connections`);
    const result = await measureWindow(() => child.request('sample', {}), workload, options.label);
    await child.request('loadStop', {});
    return result;
  } finally {
    await destroyAll(sockets);
    await child.stop();
  }
}
