// Benchmark: memory per idle TLS session at 10k sessions.
//
// A gateway child accepts `sessions` TLS 1.3 connections. Each sends a hello, gets a welcome back
// and then stays silent. The child's RSS, V8 heap and
// external memory are read after forced garbage collection before and after, and the growth is
// divided by the session count. The baseline, measured in the same run, is a bare TLS server child
// that replies to each connection with one frame of the welcome's size and keeps the same number of
// idle sockets open. Clients are raw TLS sockets in this process (10k PushClients would cost far more memory
// and CPU here without changing the server side). Run standalone:
//
//   node --import tsx bench/idle-sessions.ts [--sessions 10000]
import { randomBytes, randomUUID } from 'node:crypto';
import type tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { decodeFrame, encodeFrame } from '../src/codec/frame-codec.js';
import { Platform, PROTOCOL_VERSION } from '../src/codec/proto.js';
import { HmacTokenAuthority } from '../src/gateway/auth.js';
import { destroyAll, openIdleConnections } from './lib/clients.js';
import { readKernelMemory, type KernelMemoryReading } from './lib/kernel-memory.js';
import type { BaselineCommands, GatewayCommands, MemorySample } from './lib/protocol.js';
import { tlsFiles } from './lib/push-scenario.js';
import { bytes, describeMachine, isMainModule, isoDate, num, ratio, sleep, table, targetsTable, type BenchReport } from './lib/report.js';
import { BenchChild } from './lib/rpc.js';

export const NAME = 'idle-sessions';

/** User-space memory (JS heap + external) per idle TLS session the gateway is expected to stay under. */
const TARGET_USER_SPACE_BYTES = 4 * 1024;
/** Sessions opened and closed before the first reading, so code loading and JIT warm-up are not counted per session. */
const WARMUP_SESSIONS = 200;

const GATEWAY_CHILD = fileURLToPath(new URL('./gateway-child.ts', import.meta.url));
const BASELINE_CHILD = fileURLToPath(new URL('./baseline-child.ts', import.meta.url));

export interface IdleOptions {
  sessions: number;
}

interface IdleResult {
  sessions: number;
  openSeconds: number;
  before: MemorySample;
  after: MemorySample;
  kernelBefore: KernelMemoryReading | null;
  kernelAfter: KernelMemoryReading | null;
}

interface Server {
  memory(): Promise<MemorySample>;
  /**
   * Writes a heap snapshot when PUSHLAB_BENCH_HEAP_SNAPSHOT names a directory; called before and
   * after the sessions open, so the two can be compared.
   */
  snapshot(): Promise<void>;
  open(count: number, prefix: string): Promise<tls.TLSSocket[]>;
}

async function writeSnapshot(take: (dir: string) => Promise<{ file: string }>): Promise<void> {
  const dir = process.env.PUSHLAB_BENCH_HEAP_SNAPSHOT;
  if (!dir) return;
  const { file } = await take(dir);
  console.error(`[${NAME}] heap snapshot written to ${file}`);
}

async function waitForConnections(server: Server, expected: number): Promise<MemorySample> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const sample = await server.memory();
    if (sample.connections === expected) return sample;
    if (Date.now() > deadline) throw new Error(`server has ${sample.connections} open connections after 15 s, expected ${expected}`);
    await sleep(200);
  }
}

async function measureIdle(server: Server, sessions: number): Promise<IdleResult> {
  await destroyAll(await server.open(WARMUP_SESSIONS, 'warmup'));
  const before = await waitForConnections(server, 0);
  await server.snapshot();
  const kernelBefore = readKernelMemory();

  const started = performance.now();
  const sockets = await server.open(sessions, 'idle');
  const openSeconds = (performance.now() - started) / 1000;
  try {
    // Let deferred work (timers armed at session start, TLS session tickets) run before reading.
    await sleep(1_000);
    const after = await waitForConnections(server, sessions);
    const kernelAfter = readKernelMemory();
    await server.snapshot();
    return { sessions, openSeconds, before, after, kernelBefore, kernelAfter };
  } finally {
    await destroyAll(sockets);
  }
}

/** Sizes of the frames a pushlab session exchanged, so the baseline can send and reply with as many bytes. */
interface FrameSizes {
  helloBytes: number;
  welcomeBytes: number;
}

async function runPushlab(sessions: number, tlsMaterial: { cert: string; key: string }): Promise<{ result: IdleResult; sizes: FrameSizes }> {
  const child = BenchChild.spawn<GatewayCommands>('gateway', GATEWAY_CHILD);
  const secret = randomBytes(32);
  const authority = new HmacTokenAuthority(secret);
  const sizes: FrameSizes = { helloBytes: 0, welcomeBytes: 0 };
  try {
    // Ten minutes of heartbeat interval and as much grace keep silent sessions open through the run.
    const { port } = await child.request('start', { ...tlsMaterial, secret: secret.toString('hex'), coalescing: true, heartbeatIntervalMs: 600_000 });
    const server: Server = {
      memory: () => child.request('memory', {}),
      snapshot: () => writeSnapshot((dir) => child.request('heapSnapshot', { dir }, 300_000)),
      open: (count, prefix) => {
        const instance = randomUUID();
        return openIdleConnections({
          port,
          ca: tlsMaterial.cert,
          count,
          firstFrame: (i) => {
            const userId = `${prefix}-user-${i}`;
            const hello = encodeFrame({
              hello: {
                protocolVersion: PROTOCOL_VERSION,
                token: authority.issue({ userId, deviceId: 'phone', ttlMs: 3_600_000 }),
                userId,
                deviceId: 'phone',
                platform: Platform.PLATFORM_ANDROID,
                clientInstance: instance,
                attempt: 1,
              },
            });
            sizes.helloBytes = Math.max(sizes.helloBytes, hello.length);
            return hello;
          },
          check: (frame) => {
            const decoded = decodeFrame(frame);
            if (decoded.body !== 'welcome') throw new Error(`expected a welcome after the hello, got ${decoded.body}`);
            sizes.welcomeBytes = frame.length;
          },
        });
      },
    };
    return { result: await measureIdle(server, sessions), sizes };
  } finally {
    await child.stop();
  }
}

async function runBaseline(sessions: number, tlsMaterial: { cert: string; key: string }, sizes: FrameSizes): Promise<IdleResult> {
  const child = BenchChild.spawn<BaselineCommands>('baseline', BASELINE_CHILD);
  try {
    const { port } = await child.request('startIdle', { ...tlsMaterial, replyBytes: sizes.welcomeBytes });
    // As many bytes as the largest pushlab hello; the baseline server does not parse them.
    const helloStandIn = new Uint8Array(sizes.helloBytes).fill(0x68);
    const server: Server = {
      memory: () => child.request('memory', {}),
      snapshot: () => writeSnapshot((dir) => child.request('heapSnapshot', { dir }, 300_000)),
      open: (count) => openIdleConnections({ port, ca: tlsMaterial.cert, count, firstFrame: () => helloStandIn }),
    };
    return await measureIdle(server, sessions);
  } finally {
    await child.stop();
  }
}

interface PerSession {
  heap: number;
  external: number;
  userSpace: number;
  rss: number;
  slab: number | null;
  tcpBuffers: number | null;
}

function perSession(result: IdleResult): PerSession {
  const delta = (key: 'heapUsedBytes' | 'externalBytes' | 'rssBytes'): number => (result.after[key] - result.before[key]) / result.sessions;
  const kernel = result.kernelBefore && result.kernelAfter ? { before: result.kernelBefore, after: result.kernelAfter } : null;
  return {
    heap: delta('heapUsedBytes'),
    external: delta('externalBytes'),
    userSpace: delta('heapUsedBytes') + delta('externalBytes'),
    rss: delta('rssBytes'),
    slab: kernel ? (kernel.after.slabBytes - kernel.before.slabBytes) / result.sessions : null,
    tcpBuffers: kernel ? (kernel.after.tcpBufferBytes - kernel.before.tcpBufferBytes) / result.sessions : null,
  };
}

export async function run(options: IdleOptions = { sessions: 10_000 }, command = `node --import tsx bench/${NAME}.ts`): Promise<BenchReport> {
  const tlsMaterial = await tlsFiles();
  const date = isoDate();
  console.error(`[${NAME}] pushlab: ${options.sessions} sessions`);
  const { result: pushlabResult, sizes } = await runPushlab(options.sessions, tlsMaterial);
  console.error(`[${NAME}] baseline: ${options.sessions} sockets`);
  const baselineResult = await runBaseline(options.sessions, tlsMaterial, sizes);

  const p = perSession(pushlabResult);
  const b = perSession(baselineResult);
  const row = (label: string, pv: number | null, bv: number | null, withRatio = true): string[] => {
    if (pv === null || bv === null) return [label, 'n/a', 'n/a', 'n/a', 'n/a'];
    return [label, bytes(pv), bytes(bv), withRatio ? ratio(pv, bv) : '', bytes(pv - bv)];
  };
  const perSessionTable = table(
    ['per idle session', 'pushlab', 'baseline', 'pushlab / baseline', 'pushlab − baseline'],
    [
      row('V8 heap used', p.heap, b.heap),
      row('external (Buffers, ArrayBuffers)', p.external, b.external),
      row('user space: heap + external', p.userSpace, b.userSpace),
      row('RSS (adds OpenSSL state, malloc and heap slack)', p.rss, b.rss),
      // Machine-wide readings: a ratio of two small noisy numbers would suggest a precision they lack.
      row('kernel slab per connection, both ends', p.slab, b.slab, false),
      row('kernel TCP buffers per connection, both ends', p.tcpBuffers, b.tcpBuffers, false),
    ],
  );
  const absoluteTable = table(
    ['server process', 'pushlab', 'baseline'],
    [
      ['connections held', num(pushlabResult.after.connections), num(baselineResult.after.connections)],
      ['RSS before → after', `${bytes(pushlabResult.before.rssBytes)} → ${bytes(pushlabResult.after.rssBytes)}`, `${bytes(baselineResult.before.rssBytes)} → ${bytes(baselineResult.after.rssBytes)}`],
      ['heap used before → after', `${bytes(pushlabResult.before.heapUsedBytes)} → ${bytes(pushlabResult.after.heapUsedBytes)}`, `${bytes(baselineResult.before.heapUsedBytes)} → ${bytes(baselineResult.after.heapUsedBytes)}`],
      ['connections opened per second (handshake + hello + reply)', num(pushlabResult.sessions / pushlabResult.openSeconds), num(baselineResult.sessions / baselineResult.openSeconds)],
    ],
  );
  const targets = [
    {
      name: 'user-space memory per idle TLS session',
      target: `≤ ${bytes(TARGET_USER_SPACE_BYTES)}`,
      measured: bytes(p.userSpace),
      met: p.userSpace <= TARGET_USER_SPACE_BYTES,
    },
  ];
  const body = [
    `Workload: ${num(options.sessions)} TLS 1.3 sessions on loopback. Each client sends a hello of up to ${sizes.helloBytes} bytes, ` +
      `gets a ${sizes.welcomeBytes}-byte welcome (the baseline: a frame of the same size) and then stays silent. Readings after forced garbage collection; ` +
      `${WARMUP_SESSIONS} sessions were opened and closed before the first reading. The kernel rows are machine-wide ` +
      'and cover both ends of each loopback connection.',
    perSessionTable,
    absoluteTable,
    targetsTable(targets),
  ].join('\n\n');
  return {
    name: NAME,
    title: 'Memory per idle TLS session',
    command,
    date,
    machine: describeMachine(),
    body,
    targets,
    summary: [
      `pushlab ${bytes(p.userSpace)} user space (${bytes(p.heap)} heap + ${bytes(p.external)} external), ${bytes(p.rss)} RSS per idle session; ` +
        `baseline ${bytes(b.userSpace)} user space, ${bytes(b.rss)} RSS (${ratio(p.userSpace, b.userSpace)} user space)`,
    ],
  };
}

export function parseIdleArgs(argv: string[]): IdleOptions {
  const { values } = parseArgs({ args: argv, options: { sessions: { type: 'string' } } });
  const sessions = values.sessions === undefined ? 10_000 : Number(values.sessions);
  // NOTE: the bench process and the server child each need one file descriptor per session. With
  // `ulimit -n` at or below the session count, dials fail with EMFILE.
  if (!Number.isInteger(sessions) || sessions < 100) {
    throw new Error(`--sessions must be an integer of at least 100, got "${values.sessions}"`);
  }
  return { sessions };
}

if (isMainModule(import.meta.url)) {
  const report = await run(parseIdleArgs(process.argv.slice(2)), ['node --import tsx', `bench/${NAME}.ts`, ...process.argv.slice(2)].join(' '));
  console.log(report.body);
}
