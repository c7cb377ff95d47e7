// Bench child: the in-run baselines, raw TLS 1.3 servers with no pushlab session layer.
//
// Push mode does the gateway's job with nothing else: each connection gets fixed-size messages with
// a varint length prefix, at most `inflightPerConnection` of them unacknowledged (set per load
// run). The client acks with a cumulative count, and every message that count releases goes out in
// one write. It shares only the length-prefix framing (StreamFrameDecoder) with pushlab.
//
// Idle mode accepts connections, replies to the first bytes of each with one length-prefixed frame
// (the size of a welcome frame), and then keeps the socket open.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import v8 from 'node:v8';
import { lengthPrefixed } from '../src/codec/frame-codec.js';
import { StreamFrameDecoder } from '../src/codec/stream-decoder.js';
import { encodeVarint } from '../src/codec/varint.js';
import { LatencyHistogram } from './lib/latency.js';
import { collectGarbage, sampleProcess } from './lib/process-sample.js';
import type { BaselineCommands } from './lib/protocol.js';
import { sleep } from './lib/report.js';
import { serveCommands } from './lib/rpc.js';

let server: tls.Server | null = null;
const sockets = new Set<tls.TLSSocket>();
const latency = new LatencyHistogram();
const totals = { acked: 0, sent: 0, writes: 0 };
let pushStarted = false;
const connections: PushConnection[] = [];
let loadRunning = false;

class PushConnection {
  private sent = 0;
  private acked = 0;
  private inflight = 1;
  /** Send time of message n at index n % inflight; at most `inflight` are unacknowledged. */
  private sentAt = new Float64Array(1);
  private readonly decoder = new StreamFrameDecoder(64);

  constructor(
    private readonly socket: tls.TLSSocket,
    private readonly template: Buffer,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  /** True when every message sent so far is acknowledged (or the socket is gone). */
  get drained(): boolean {
    return this.sent === this.acked || this.socket.destroyed;
  }

  /** Changes the window; only between load runs, once the connection is drained. */
  setWindow(inflight: number): void {
    this.inflight = inflight;
    this.sentAt = new Float64Array(inflight);
  }

  /** Writes as many messages as the window allows, in one write. */
  fill(): void {
    if (!loadRunning) return;
    const count = this.inflight - (this.sent - this.acked);
    if (count <= 0 || this.socket.destroyed) return;
    const size = this.template.length;
    const out = Buffer.allocUnsafe(count * size);
    const now = performance.now();
    for (let i = 0; i < count; i++) {
      const offset = i * size;
      this.template.copy(out, offset);
      // A per-message sequence number, so each message is built rather than replayed verbatim.
      out.writeUInt32BE(this.sent % 0x1_0000_0000, size - 4);
      this.sentAt[this.sent % this.inflight] = now;
      this.sent += 1;
    }
    this.socket.write(out);
    totals.sent += count;
    totals.writes += 1;
  }

  private onData(chunk: Buffer): void {
    const now = performance.now();
    for (const body of this.decoder.push(chunk)) {
      const cumulative = Buffer.from(body.buffer, body.byteOffset, body.length).readUInt32BE(0);
      while (this.acked < cumulative) {
        latency.record(now - this.sentAt[this.acked % this.inflight]!);
        this.acked += 1;
        totals.acked += 1;
      }
    }
    this.fill();
  }
}

function listen(options: tls.TlsOptions, onSecure: (socket: tls.TLSSocket) => void): Promise<number> {
  if (server) throw new Error('a baseline server is already running');
  const created = tls.createServer({ ...options, minVersion: 'TLSv1.3' }, (socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    onSecure(socket);
  });
  server = created;
  return new Promise((resolve, reject) => {
    created.once('error', reject);
    created.listen(0, '127.0.0.1', () => resolve((created.address() as { port: number }).port));
  });
}

function pushTemplate(messageBytes: number): Buffer {
  const prefix = encodeVarint(messageBytes);
  const template = Buffer.alloc(prefix.length + messageBytes, 0x61);
  template.set(prefix, 0);
  return template;
}

serveCommands<BaselineCommands>(
  {
    async startPush(args) {
      if (args.messageBytes < 4) throw new Error(`messageBytes must be at least 4, got ${args.messageBytes}`);
      const template = pushTemplate(args.messageBytes);
      pushStarted = true;
      const port = await listen({ cert: args.cert, key: args.key }, (socket) => {
        connections.push(new PushConnection(socket, template));
      });
      return { port };
    },

    async loadStart(args) {
      if (!pushStarted) throw new Error('push server not started; send "startPush" first');
      if (loadRunning) throw new Error('load already running');
      // A client's secureConnect can come before the server's matching secureConnection event.
      for (let waited = 0; connections.length < args.expectedConnections && waited < 5_000; waited += 10) await sleep(10);
      for (const connection of connections) connection.setWindow(args.inflightPerConnection);
      loadRunning = true;
      totals.acked = 0;
      totals.sent = 0;
      totals.writes = 0;
      latency.takeSummary();
      for (const connection of connections) connection.fill();
      return { connections: connections.length };
    },

    sample() {
      return { ...sampleProcess(), ...totals, latency: latency.takeSummary() };
    },

    async loadStop() {
      loadRunning = false;
      // Wait (bounded) for the acks of messages still in flight, so the next run starts from quiet connections.
      for (let waited = 0; !connections.every((c) => c.drained) && waited < 5_000; waited += 10) await sleep(10);
      return { sent: totals.sent };
    },

    async startIdle(args) {
      const reply = lengthPrefixed(Buffer.alloc(args.replyBytes, 0x62));
      const port = await listen({ cert: args.cert, key: args.key }, (socket) => {
        socket.once('data', () => socket.write(reply));
        // Later bytes are read and dropped, like a server that waits for the next request.
        socket.on('data', () => {});
      });
      return { port };
    },

    async memory() {
      await collectGarbage();
      return { ...sampleProcess(), connections: sockets.size };
    },

    heapSnapshot(args) {
      return { file: v8.writeHeapSnapshot(path.join(args.dir, `baseline-${process.pid}-${Date.now()}.heapsnapshot`)) };
    },
  },
  async () => {
    loadRunning = false;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  },
);
