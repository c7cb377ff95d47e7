// Measures the server-side memory of idle QUIC sessions. Not part of the test suite (the file name
// does not end in .test.ts); run it by hand:
//
//   node --expose-gc --import tsx test/quic/measure-idle-memory.ts [sessions] [settings-json]
//
// The server (this process) listens on loopback. A child process dials `sessions` connections
// through the QUIC transport, each sends one 16-byte frame, and all then stay idle. The script
// prints the growth of this process's RSS, V8 heap and external memory per session, measured after
// two forced garbage collections, against a baseline taken after the listener started.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/logger.js';
import { createSelfSignedCertificate } from '../../src/tls/self-signed.js';
import type { TransportConnection } from '../../src/transport/types.js';
import { QuicTransport } from '../../transports/quic/index.js';

const CHILD_FLAG = '--dial-sessions';
const DIAL_BATCH = 50;

if (process.argv[2] === CHILD_FLAG) {
  await runClients(Number(process.argv[3]), Number(process.argv[4]), JSON.parse(process.argv[5] ?? '{}') as Record<string, unknown>);
} else {
  await runServer(Number(process.argv[2] ?? 1_000), JSON.parse(process.argv[3] ?? '{}') as Record<string, unknown>);
}

async function runServer(sessions: number, settings: Record<string, unknown>): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc so the measurement can force garbage collection');
  const tls = await createSelfSignedCertificate();
  const connections = new Set<TransportConnection>();
  let framesReceived = 0;
  const listener = await new QuicTransport().listen(
    { host: '127.0.0.1', port: 0, maxFrameSize: 64 * 1024, tls: { cert: tls.cert, key: tls.key }, logger: silentLogger(), settings },
    (connection) => {
      connections.add(connection);
      connection.setHandler({
        onFrame: () => (framesReceived += 1),
        onError: () => {},
        onDrain: () => {},
        onClose: () => connections.delete(connection),
      });
    },
  );

  const settle = async (): Promise<NodeJS.MemoryUsage> => {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    gc();
    gc();
    return process.memoryUsage();
  };
  const before = await settle();

  const child = fork(fileURLToPath(import.meta.url), [CHILD_FLAG, String(listener.address.port), String(sessions), JSON.stringify(settings)], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, PUSHLAB_MEASURE_CA: tls.cert },
  });
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`client process exited with code ${code} before all sessions were up`)));
  });
  const deadline = Date.now() + 60_000;
  while (framesReceived < sessions && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  const setupMs = Date.now() - started;
  const after = await settle();

  const perSession = (key: keyof NodeJS.MemoryUsage): number => Math.round((after[key] - before[key]) / sessions / 102.4) / 10;
  console.log(
    JSON.stringify({
      sessions,
      open: connections.size,
      framesReceived,
      settings,
      setupMs,
      perSessionKiB: {
        rss: perSession('rss'),
        heapUsed: perSession('heapUsed'),
        heapTotal: perSession('heapTotal'),
        external: perSession('external'),
        arrayBuffers: perSession('arrayBuffers'),
      },
    }),
  );
  child.kill('SIGKILL');
  await listener.close();
  process.exit(0);
}

async function runClients(port: number, sessions: number, settings: Record<string, unknown>): Promise<void> {
  const transport = new QuicTransport();
  const open: TransportConnection[] = [];
  for (let first = 0; first < sessions; first += DIAL_BATCH) {
    const batch = Math.min(DIAL_BATCH, sessions - first);
    const dialed = await Promise.all(
      Array.from({ length: batch }, () =>
        transport.dial({ host: '127.0.0.1', port, maxFrameSize: 64 * 1024, tls: { ca: process.env.PUSHLAB_MEASURE_CA ?? '' }, logger: silentLogger(), settings }),
      ),
    );
    for (const connection of dialed) {
      connection.setHandler({ onFrame: () => {}, onError: () => {}, onDrain: () => {}, onClose: () => {} });
      connection.send(new Uint8Array(16));
      open.push(connection);
    }
  }
  process.send?.('ready');
  // Stay alive, idle, until the parent kills this process.
  setInterval(() => {}, 60_000);
}
