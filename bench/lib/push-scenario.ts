// Push-with-ack runs. A "system" is a server child (the pushlab gateway or the raw TLS baseline)
// with its clients connected from this process. Systems under comparison are all opened first and
// then measured in alternating rounds, so slow drift in the machine's background load hits each of
// them alike. Each round starts the load, waits out a warm-up, and reads the child's counters and
// CPU time at both ends of a measurement window.
import { randomBytes, randomUUID } from 'node:crypto';
import type tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { PushClient } from '../../src/client/client.js';
import { encodeFrame } from '../../src/codec/frame-codec.js';
import { HmacTokenAuthority } from '../../src/gateway/auth.js';
import { createSelfSignedCertificate } from '../../src/tls/self-signed.js';
import { builtinTransports } from '../../transports/index.js';
import { connectBaselineClients, connectPushClients, destroyAll, deviceRefs } from './clients.js';
import type { LatencySummary } from './latency.js';
import type { BaselineCommands, GatewayCommands, LoadSample, TlsFiles } from './protocol.js';
import { sleep } from './report.js';
import { BenchChild } from './rpc.js';
import { busyCores, readSystemCpu } from './system-cpu.js';

const GATEWAY_CHILD = fileURLToPath(new URL('../gateway-child.ts', import.meta.url));
const BASELINE_CHILD = fileURLToPath(new URL('../baseline-child.ts', import.meta.url));

export interface PushSystem {
  readonly label: string;
  /** Messages published (pushlab) or sent (baseline) over all load runs so far, warm-ups included. */
  readonly messagesSent: number;
  startLoad(inflightPerConnection: number): Promise<void>;
  sample(): Promise<LoadSample>;
  stopLoad(): Promise<void>;
  close(): Promise<void>;
}

export interface RoundTiming {
  /** Load before the first reading of every round. */
  warmupMs: number;
  /** Extra load before the first round only, while the JIT compiles the hot paths. */
  firstWarmupMs: number;
  measureMs: number;
  rounds: number;
}

export interface PushRunResult {
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

/** Opens a pushlab gateway child with one PushClient per connection, over `transport` (a built-in name; default tcp). */
export async function openPushlab(options: {
  label: string;
  tls: TlsFiles;
  coalescing: boolean;
  connections: number;
  payloadBytes: number;
  transport?: string;
}): Promise<PushSystem> {
  const transport = options.transport ?? 'tcp';
  const child = BenchChild.spawn<GatewayCommands>(`gateway-${transport}`, GATEWAY_CHILD);
  const secret = randomBytes(32);
  const authority = new HmacTokenAuthority(secret);
  let clients: PushClient[] = [];
  const close = async (): Promise<void> => {
    for (const client of clients) client.close();
    await child.stop();
  };
  try {
    const { port, clientSettings } = await child.request('start', {
      ...options.tls,
      secret: secret.toString('hex'),
      coalescing: options.coalescing,
      heartbeatIntervalMs: 600_000,
      transport,
    });
    const devices = deviceRefs(options.connections, 'push');
    clients = await connectPushClients({
      port,
      ca: options.tls.cert,
      devices,
      authority,
      transport: builtinTransports().create(transport),
      ...(clientSettings === undefined ? {} : { transportSettings: clientSettings }),
    });
    const system = {
      label: options.label,
      messagesSent: 0,
      startLoad: async (inflight: number) => {
        await child.request('loadStart', { devices, inflightPerDevice: inflight, payloadBytes: options.payloadBytes });
      },
      sample: () => child.request('sample', {}),
      stopLoad: async () => {
        const { published } = await child.request('loadStop', {});
        system.messagesSent += published;
      },
      close,
    };
    return system;
  } catch (error) {
    await close();
    throw error;
  }
}

/** Opens the raw TLS baseline child with one raw client per connection, sending push frames of the same size. */
export async function openBaseline(options: { label: string; tls: TlsFiles; connections: number; payloadBytes: number }): Promise<PushSystem> {
  const child = BenchChild.spawn<BaselineCommands>('baseline', BASELINE_CHILD);
  let sockets: tls.TLSSocket[] = [];
  const close = async (): Promise<void> => {
    await destroyAll(sockets);
    await child.stop();
  };
  try {
    const { port } = await child.request('startPush', { ...options.tls, messageBytes: pushFrameBytes(options.payloadBytes) });
    sockets = await connectBaselineClients({ port, ca: options.tls.cert, count: options.connections });
    const system = {
      label: options.label,
      messagesSent: 0,
      startLoad: async (inflight: number) => {
        const { connections } = await child.request('loadStart', { expectedConnections: options.connections, inflightPerConnection: inflight });
        if (connections !== options.connections) throw new Error(`baseline server sees ${connections} of ${options.connections} connections`);
      },
      sample: () => child.request('sample', {}),
      stopLoad: async () => {
        const { sent } = await child.request('loadStop', {});
        system.messagesSent += sent;
      },
      close,
    };
    return system;
  } catch (error) {
    await close();
    throw error;
  }
}

async function measureRound(system: PushSystem, inflight: number, warmupMs: number, measureMs: number): Promise<PushRunResult> {
  await system.startLoad(inflight);
  try {
    await sleep(warmupMs);
    await system.sample(); // discards the warm-up latency samples
    const first = await system.sample();
    const clientCpuStart = process.cpuUsage();
    const systemStart = readSystemCpu();
    await sleep(measureMs);
    const last = await system.sample();
    const clientCpu = process.cpuUsage(clientCpuStart);

    const seconds = (last.atMs - first.atMs) / 1000;
    const systemCores = busyCores(systemStart, readSystemCpu(), seconds);
    const acked = last.acked - first.acked;
    const cpuSeconds = (last.cpuUserUs - first.cpuUserUs + last.cpuSystemUs - first.cpuSystemUs) / 1e6;
    const sent = last.sent - first.sent;
    const serverCores = cpuSeconds / seconds;
    const clientCores = (clientCpu.user + clientCpu.system) / 1e6 / seconds;
    if (acked === 0) throw new Error(`${system.label}: no message was acknowledged during the ${seconds.toFixed(1)} s window`);
    return {
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
  } finally {
    await system.stopLoad();
  }
}

/** Measures every system `timing.rounds` times, alternating between them; returns the rounds per system, in order. */
export async function measureAlternating(systems: PushSystem[], inflight: number, timing: RoundTiming, log: (line: string) => void): Promise<PushRunResult[][]> {
  const results: PushRunResult[][] = systems.map(() => []);
  for (let round = 0; round < timing.rounds; round++) {
    for (const [index, system] of systems.entries()) {
      log(`window ${inflight}, round ${round + 1}/${timing.rounds}: ${system.label}`);
      const warmupMs = timing.warmupMs + (round === 0 ? timing.firstWarmupMs : 0);
      results[index]!.push(await measureRound(system, inflight, warmupMs, timing.measureMs));
    }
  }
  return results;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Takes the median of each field over the rounds, so the fields of the result may come from different rounds. */
export function medianOfRounds(rounds: PushRunResult[]): PushRunResult {
  const pick = (read: (r: PushRunResult) => number): number => median(rounds.map(read));
  const others = rounds.map((r) => r.otherCores).filter((v): v is number => v !== null);
  return {
    seconds: rounds.reduce((sum, r) => sum + r.seconds, 0),
    acked: rounds.reduce((sum, r) => sum + r.acked, 0),
    ackedPerSecond: pick((r) => r.ackedPerSecond),
    ackedPerCpuSecond: pick((r) => r.ackedPerCpuSecond),
    serverCores: pick((r) => r.serverCores),
    clientCores: pick((r) => r.clientCores),
    otherCores: others.length === rounds.length ? median(others) : null,
    writesPerMessage: pick((r) => r.writesPerMessage),
    latency: {
      count: rounds.reduce((sum, r) => sum + r.latency.count, 0),
      meanMs: pick((r) => r.latency.meanMs),
      p50Ms: pick((r) => r.latency.p50Ms),
      p90Ms: pick((r) => r.latency.p90Ms),
      p99Ms: pick((r) => r.latency.p99Ms),
      maxMs: Math.max(...rounds.map((r) => r.latency.maxMs)),
    },
    serverRssBytes: Math.max(...rounds.map((r) => r.serverRssBytes)),
  };
}

/** Opens every system, runs `body`, and closes every system that opened, also when opening or `body` fails. */
export async function withSystems<T>(open: (() => Promise<PushSystem>)[], body: (systems: PushSystem[]) => Promise<T>): Promise<T> {
  const systems: PushSystem[] = [];
  try {
    for (const opener of open) systems.push(await opener());
    return await body(systems);
  } finally {
    for (const system of systems) await system.close();
  }
}
