// Gateway memory per idle session through any registered transport: a gateway child accepts
// sessions that send a hello, get a welcome and stay silent (bench/lib/idle-transport.ts). Its RSS,
// V8 heap and external memory are read after forced garbage collection before and after, and the
// growth is divided by the session count. Optionally two heap snapshots around a smaller batch of
// sessions show which objects make up a session.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HmacTokenAuthority } from '../../src/gateway/auth.js';
import type { TransportConnection } from '../../src/transport/types.js';
import { builtinTransports } from '../../transports/index.js';
import { heapGrowthPerSession, type HeapGrowth } from './heap-summary.js';
import { destroyConnections, helloFrame, openIdleTransportSessions } from './idle-transport.js';
import type { GatewayCommands, MemorySample, TlsFiles } from './protocol.js';
import { sleep } from './report.js';
import { BenchChild } from './rpc.js';

const GATEWAY_CHILD = fileURLToPath(new URL('../gateway-child.ts', import.meta.url));
/** Sessions opened and closed before the first reading, so code loading and JIT warm-up are not counted per session. */
const WARMUP_SESSIONS = 200;
/** Ten minutes of heartbeat interval and as much grace keep silent sessions open through the run. */
const IDLE_HEARTBEAT_MS = 600_000;
/** Time for connections that closed to leave the QUIC library's draining state before a reading. */
const CLOSE_SETTLE_MS = 2_000;

export interface IdleMemoryOptions {
  transport: string;
  sessions: number;
  /** Dials in progress at once. */
  concurrency: number;
  tls: TlsFiles;
  /** When above 0: after the main reading, heap snapshots around this many further sessions. */
  snapshotSessions: number;
  log(line: string): void;
}

export interface IdleMemoryResult {
  transport: string;
  sessions: number;
  openSeconds: number;
  before: MemorySample;
  after: MemorySample;
  heapGrowth: HeapGrowth | null;
}

export interface PerSessionMemory {
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** V8 heap used + external: what the JavaScript side holds. */
  userSpace: number;
  rss: number;
  /** RSS not explained by the V8 heap (committed) or external memory: native libraries and malloc. */
  nativeEstimate: number;
}

export function perSessionMemory(result: IdleMemoryResult): PerSessionMemory {
  const delta = (key: 'heapUsedBytes' | 'heapTotalBytes' | 'externalBytes' | 'rssBytes'): number => (result.after[key] - result.before[key]) / result.sessions;
  return {
    heapUsed: delta('heapUsedBytes'),
    heapTotal: delta('heapTotalBytes'),
    external: delta('externalBytes'),
    userSpace: delta('heapUsedBytes') + delta('externalBytes'),
    rss: delta('rssBytes'),
    nativeEstimate: delta('rssBytes') - delta('heapTotalBytes') - delta('externalBytes'),
  };
}

async function waitForSessions(child: BenchChild<GatewayCommands>, expected: number): Promise<MemorySample> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const sample = await child.request('memory', {});
    if (sample.connections === expected) return sample;
    if (Date.now() > deadline) throw new Error(`gateway has ${sample.connections} sessions after 20 s, expected ${expected}`);
    await sleep(200);
  }
}

/** Opens a gateway child for `options.transport`, measures, and stops the child. */
export async function measureIdleMemory(options: IdleMemoryOptions): Promise<IdleMemoryResult> {
  const child = BenchChild.spawn<GatewayCommands>(`idle-${options.transport}`, GATEWAY_CHILD);
  const secret = randomBytes(32);
  const authority = new HmacTokenAuthority(secret);
  const transport = builtinTransports().create(options.transport);
  let open: TransportConnection[] = [];
  let snapshotDir: string | null = null;
  try {
    const { port, clientSettings } = await child.request('start', {
      ...options.tls,
      secret: secret.toString('hex'),
      coalescing: true,
      heartbeatIntervalMs: IDLE_HEARTBEAT_MS,
      transport: options.transport,
    });
    const openSessions = (count: number, prefix: string): Promise<TransportConnection[]> => {
      const instance = randomUUID();
      return openIdleTransportSessions({
        transport,
        port,
        ca: options.tls.cert,
        ...(clientSettings === undefined ? {} : { settings: clientSettings }),
        count,
        concurrency: options.concurrency,
        hello: (index) => helloFrame(authority, `${prefix}-user-${index}`, instance),
      });
    };
    const closeSessions = async (): Promise<void> => {
      destroyConnections(open);
      open = [];
      await waitForSessions(child, 0);
      await sleep(CLOSE_SETTLE_MS);
    };

    options.log(`${options.transport}: ${WARMUP_SESSIONS} warm-up sessions`);
    open = await openSessions(WARMUP_SESSIONS, 'warmup');
    await closeSessions();
    const before = await waitForSessions(child, 0);

    options.log(`${options.transport}: ${options.sessions} idle sessions`);
    const started = performance.now();
    open = await openSessions(options.sessions, 'idle');
    const openSeconds = (performance.now() - started) / 1000;
    // Let deferred work (timers armed at session start, TLS session tickets) run before reading.
    await sleep(1_000);
    const after = await waitForSessions(child, options.sessions);
    await closeSessions();

    let heapGrowth: HeapGrowth | null = null;
    if (options.snapshotSessions > 0) {
      options.log(`${options.transport}: heap snapshots around ${options.snapshotSessions} more sessions`);
      snapshotDir = await mkdtemp(path.join(os.tmpdir(), 'pushlab-bench-heap-'));
      const first = await child.request('heapSnapshot', { dir: snapshotDir }, 300_000);
      open = await openSessions(options.snapshotSessions, 'snapshot');
      await sleep(1_000);
      await waitForSessions(child, options.snapshotSessions);
      const second = await child.request('heapSnapshot', { dir: snapshotDir }, 300_000);
      destroyConnections(open);
      open = [];
      heapGrowth = heapGrowthPerSession(first.file, second.file, options.snapshotSessions);
    }
    return { transport: options.transport, sessions: options.sessions, openSeconds, before, after, heapGrowth };
  } finally {
    destroyConnections(open);
    await child.stop();
    if (snapshotDir !== null) await rm(snapshotDir, { recursive: true, force: true });
  }
}
