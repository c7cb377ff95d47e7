// Bench child: runs a pushlab Gateway with one listener (tcp with TLS 1.3, unless the start command
// names another built-in transport) in this process. On command it publishes to a set of devices
// through the library API, keeping a fixed number of messages unacknowledged per device. Keeping
// the publisher here avoids one HTTP request per message, which would measure the HTTP API instead
// of the session core. Started by the bench scripts through bench/lib/rpc.ts; not meant to be run
// by hand.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import { builtinTransports } from '../transports/index.js';
import { systemClock, type Clock } from '../src/clock.js';
import { HmacTokenAuthority } from '../src/gateway/auth.js';
import type { DeviceRecord } from '../src/gateway/device-registry.js';
import { Gateway } from '../src/gateway/gateway.js';
import type { ServerSession } from '../src/gateway/server-session.js';
import { silentLogger } from '../src/logger.js';
import { GatewayMetrics } from '../src/metrics/gateway-metrics.js';
import { LatencyHistogram } from './lib/latency.js';
import { collectGarbage, sampleProcess } from './lib/process-sample.js';
import { sleep } from './lib/report.js';
import type { GatewayCommands, LoadSample } from './lib/protocol.js';
import { serveCommands } from './lib/rpc.js';

/**
 * Wall-clock milliseconds with sub-millisecond resolution. The gateway computes publish-to-ack
 * latency from its clock, and Date.now() would round every sample to whole milliseconds.
 */
const fineClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: systemClock.setTimeout,
};

/** How often the publisher tops up each device, ms. Node runs due timers once per event-loop iteration, so under load this means once per turn. */
const REFILL_INTERVAL_MS = 1;

let gateway: Gateway | null = null;
let metrics: GatewayMetrics | null = null;
const latency = new LatencyHistogram();
let ackedTotal = 0;

interface Load {
  timer: NodeJS.Timeout;
  records: DeviceRecord<ServerSession>[];
  published: number;
  start: { pushesSent: number; framesWritten: number; acked: number };
}
let load: Load | null = null;

function requireGateway(): Gateway {
  if (!gateway) throw new Error('gateway not started; send "start" first');
  return gateway;
}

/** Sums a counter over its label sets. prom-client's get() is async, and cheap enough for a sample every few seconds. */
async function counterTotal(counter: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  const data = await counter.get();
  return data.values.reduce((sum, entry) => sum + entry.value, 0);
}

/** Counts every ack and records its latency as the gateway reports it to its own histogram. */
function observeAcks(gatewayMetrics: GatewayMetrics): void {
  const histogram = gatewayMetrics.ackLatency;
  const observe = histogram.observe.bind(histogram) as (labels: Record<string, string>, seconds: number) => void;
  // NOTE: the gateway has no ack event, so the bench wraps the histogram's observe(); the gateway
  // still records every sample in its own histogram.
  histogram.observe = ((labels: Record<string, string>, seconds: number) => {
    ackedTotal += 1;
    latency.record(seconds * 1000);
    observe(labels, seconds);
  }) as typeof histogram.observe;
}

serveCommands<GatewayCommands>(
  {
    async start(args) {
      if (gateway) throw new Error('gateway already started');
      metrics = new GatewayMetrics();
      observeAcks(metrics);
      gateway = await Gateway.start({
        registry: builtinTransports(),
        listeners: [{ transport: args.transport ?? 'tcp', host: '127.0.0.1', port: 0, ...(args.settings === undefined ? {} : { settings: args.settings }) }],
        tls: { cert: args.cert, key: args.key },
        authenticator: new HmacTokenAuthority(Buffer.from(args.secret, 'hex'), fineClock),
        // Idle-session runs last minutes; the timeout keeps every silent session alive through them.
        heartbeat: { intervalMs: args.heartbeatIntervalMs, timeoutMs: args.heartbeatTimeoutMs ?? args.heartbeatIntervalMs },
        coalescing: { enabled: args.coalescing },
        clock: fineClock,
        logger: silentLogger(),
        metrics,
      });
      const listener = gateway.listeners[0]!;
      return { port: listener.address.port, ...(listener.clientSettings === undefined ? {} : { clientSettings: listener.clientSettings }) };
    },

    async loadStart(args) {
      const target = requireGateway();
      if (load) throw new Error('load already running');
      const records: DeviceRecord<ServerSession>[] = [];
      for (const ref of args.devices) {
        const record = target.devices.get(ref.userId, ref.deviceId);
        if (record?.live) records.push(record);
      }
      if (records.length !== args.devices.length) {
        throw new Error(`only ${records.length} of ${args.devices.length} devices have a live session`);
      }
      const payload = randomBytes(args.payloadBytes);
      const started: Load = {
        timer: setInterval(() => refill(target, records, args.inflightPerDevice, payload, started), REFILL_INTERVAL_MS),
        records,
        published: 0,
        start: { pushesSent: await counterTotal(metrics!.pushesSent), framesWritten: await counterTotal(metrics!.framesWritten), acked: ackedTotal },
      };
      load = started;
      latency.takeSummary();
      return { devicesFound: records.length };
    },

    async sample() {
      if (!load || !metrics) throw new Error('no load running');
      const sample: LoadSample = {
        ...sampleProcess(),
        acked: ackedTotal - load.start.acked,
        sent: (await counterTotal(metrics.pushesSent)) - load.start.pushesSent,
        writes: (await counterTotal(metrics.framesWritten)) - load.start.framesWritten,
        latency: latency.takeSummary(),
      };
      return sample;
    },

    async loadStop() {
      if (!load) throw new Error('no load running');
      clearInterval(load.timer);
      const { published, records } = load;
      load = null;
      // Wait (bounded) for the acks of messages still in flight, so the next run starts from quiet sessions.
      for (let waited = 0; records.some((r) => r.inbox.pendingCount > 0 && r.live) && waited < 5_000; waited += 10) await sleep(10);
      return { published };
    },

    async memory() {
      await collectGarbage();
      return { ...sampleProcess(), connections: requireGateway().sessionCount };
    },

    heapSnapshot(args) {
      return { file: v8.writeHeapSnapshot(path.join(args.dir, `gateway-${process.pid}-${Date.now()}.heapsnapshot`)) };
    },
  },
  async () => {
    if (load) clearInterval(load.timer);
    await gateway?.close();
  },
);

/** Publishes to every device whose unacknowledged count fell below the target. */
function refill(target: Gateway, records: DeviceRecord<ServerSession>[], inflight: number, payload: Uint8Array, state: Load): void {
  for (const record of records) {
    const deficit = inflight - record.inbox.pendingCount;
    for (let i = 0; i < deficit; i++) {
      void target.publish({ userId: record.userId, deviceId: record.deviceId, payload });
    }
    if (deficit > 0) state.published += deficit;
  }
}
