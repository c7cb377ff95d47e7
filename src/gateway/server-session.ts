// The gateway side of one live session. Pushes leave the device's inbox through a priority queue,
// a window of unacknowledged pushes and the coalescer. Acks, client publishes and pings come in.
import type { Clock } from '../clock.js';
import { decodeFrame, encodeFrame, unbatch } from '../codec/frame-codec.js';
import { CloseCode, Priority, type Frame, type Publish, type PublishAck } from '../codec/proto.js';
import { FrameTooLargeError, ProtocolError, toError } from '../errors.js';
import { Heartbeat, type HeartbeatHost } from '../heartbeat/heartbeat.js';
import { FixedHeartbeatPolicy } from '../heartbeat/policy.js';
import type { StoredMessage } from '../inbox/device-inbox.js';
import type { Logger } from '../logger.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { Coalescer, type CoalescingOptions } from '../session/coalescer.js';
import { sendCloseAndEnd } from '../session/close.js';
import { PrioritySendQueue } from '../session/send-queue.js';
import type { ConnectionCloseInfo, ConnectionHandler, TransportConnection } from '../transport/types.js';
import type { DeviceRecord } from './device-registry.js';
import type { HeartbeatConfig } from './options.js';

export type ServerSessionState = 'open' | 'closing' | 'closed';

export interface ServerSessionContext {
  connection: TransportConnection;
  device: DeviceRecord<ServerSession>;
  epoch: number;
  heartbeat: HeartbeatConfig;
  sendWindow: number;
  coalescing: CoalescingOptions;
  clock: Clock;
  logger: Logger;
  metrics: GatewayMetrics;
  /** Applies one client publish (in client order); resolves with the message id for the ack. */
  applyUpstream(session: ServerSession, publish: Publish): Promise<{ messageId?: string } | void>;
  onClosed(session: ServerSession, code: CloseCode): void;
}

interface QueuedPush {
  message: StoredMessage;
}

export class ServerSession implements ConnectionHandler, HeartbeatHost {
  readonly epoch: number;
  readonly transport: string;
  private state: ServerSessionState = 'open';
  private readonly queue = new PrioritySendQueue<QueuedPush>();
  private readonly inflight = new Set<number>();
  private readonly coalescer: Coalescer;
  private readonly heartbeat: Heartbeat;
  private readonly logger: Logger;
  private pumpScheduled = false;
  private peerCloseCode: CloseCode | null = null;

  constructor(private readonly ctx: ServerSessionContext) {
    this.epoch = ctx.epoch;
    this.transport = ctx.connection.transport;
    this.logger = ctx.logger.child({ sessionId: ctx.device.sessionId, deviceId: ctx.device.deviceId, epoch: ctx.epoch, connection: ctx.connection.id });
    this.coalescer = new Coalescer(ctx.coalescing, ctx.connection.maxFrameSize, ctx.clock, (frame, count) => this.write(frame, count));
    const policy = new FixedHeartbeatPolicy(ctx.heartbeat.intervalMs, ctx.heartbeat.timeoutMs);
    this.heartbeat = new Heartbeat(this, policy, ctx.clock, { pings: false });
  }

  get sessionState(): ServerSessionState {
    return this.state;
  }

  get device(): { readonly userId: string; readonly deviceId: string } {
    return this.ctx.device;
  }

  get sessionId(): string {
    return this.ctx.device.sessionId;
  }

  /** Takes over the connection, queues the stored messages that are due and starts the watchdog. */
  start(replay: StoredMessage[]): void {
    this.ctx.metrics.sessionsActive.inc({ transport: this.transport });
    this.ctx.connection.setHandler(this);
    this.heartbeat.start();
    for (const message of replay) this.enqueue(message);
    this.logger.debug({ replay: replay.length }, 'session started');
  }

  /** Queues one stored message for sending; high priority jumps ahead of waiting normal ones. */
  enqueue(message: StoredMessage): void {
    if (this.state !== 'open') return;
    this.queue.push({ message }, message.priority === Priority.PRIORITY_HIGH);
    this.schedulePump();
  }

  /** Sends a frame that bypasses the push queue (welcome, acks, pongs). */
  sendControl(frame: Uint8Array): void {
    if (this.state !== 'open') return;
    this.coalescer.add(frame);
  }

  close(code: CloseCode, reason: string): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.logger.info({ code: CloseCode[code], reason }, 'closing session');
    this.coalescer.flush();
    if (code === CloseCode.HEARTBEAT_TIMEOUT) {
      // The link is presumed dead: a graceful end would only wait on it.
      this.ctx.connection.destroy();
    } else {
      sendCloseAndEnd(this.ctx.connection, code, reason);
    }
    this.finish(code);
  }

  // ConnectionHandler

  onFrame(bytes: Uint8Array): void {
    if (this.state !== 'open') return;
    this.heartbeat.noteReceived();
    try {
      for (const frame of unbatch(decodeFrame(bytes))) this.handleFrame(frame);
    } catch (error) {
      this.failProtocol(toError(error));
    }
  }

  onError(error: Error): void {
    this.failProtocol(error);
  }

  onDrain(): void {
    this.schedulePump();
  }

  onClose(info: ConnectionCloseInfo): void {
    if (this.state === 'closed') return;
    if (info.error) this.logger.debug({ err: info.error }, 'connection failed');
    this.finish(this.peerCloseCode ?? CloseCode.CLOSE_CODE_UNSPECIFIED);
  }

  // HeartbeatHost

  sendPing(): void {
    // The gateway only watches; clients ping.
  }

  onPeerDead(silenceMs: number): void {
    this.ctx.metrics.heartbeatTimeouts.inc({ transport: this.transport });
    this.logger.info({ silenceMs }, 'peer silent past heartbeat timeout');
    this.close(CloseCode.HEARTBEAT_TIMEOUT, `no frame for ${silenceMs} ms`);
  }

  private handleFrame(frame: Frame): void {
    switch (frame.body) {
      case 'ack':
        this.handleAck(Number(frame.ack!.cumulative ?? 0), (frame.ack!.selective ?? []).map(Number));
        return;
      case 'publish':
        this.handlePublish(frame.publish as Publish);
        return;
      case 'ping':
        this.sendControl(encodeFrame({ pong: { nonce: frame.ping!.nonce, sentAtMs: frame.ping!.sentAtMs } }));
        return;
      case 'pong':
        return;
      case 'close':
        this.peerCloseCode = frame.close!.code ?? CloseCode.CLOSE_CODE_UNSPECIFIED;
        this.logger.debug({ code: CloseCode[this.peerCloseCode] }, 'peer closed the session');
        this.ctx.connection.close();
        return;
      default:
        throw new ProtocolError(`unexpected ${frame.body} frame in an open session`);
    }
  }

  private handleAck(cumulative: number, selective: number[]): void {
    const acked = this.ctx.device.inbox.ack(cumulative, selective);
    for (const seq of this.inflight) if (seq <= cumulative) this.inflight.delete(seq);
    for (const seq of selective) this.inflight.delete(seq);
    if (acked.length > 0) {
      const now = this.ctx.clock.now();
      this.ctx.metrics.pushesAcked.inc({ transport: this.transport }, acked.length);
      for (const message of acked) this.ctx.metrics.ackLatency.observe({ transport: this.transport }, Math.max(0, now - message.publishedAtMs) / 1000);
    }
    this.schedulePump();
  }

  private handlePublish(publish: Publish): void {
    const clientSeq = Number(publish.clientSeq ?? 0);
    if (clientSeq < 1) throw new ProtocolError(`publish with invalid client_seq ${clientSeq}`);
    const ledger = this.ctx.device.upstream;
    const verdict = ledger.receive(clientSeq, publish);
    switch (verdict.kind) {
      case 'duplicate':
        this.ctx.metrics.upstreamDuplicates.inc({ transport: this.transport });
        if (verdict.ack) {
          this.sendControl(encodeFrame({ publishAck: { ...verdict.ack, duplicate: true } }));
        } else if (!verdict.pending) {
          // Applied long ago and its ack forgotten: confirm without the message id.
          this.sendControl(encodeFrame({ publishAck: { clientSeq, duplicate: true } }));
        }
        return;
      case 'held':
        return;
      case 'overflow':
        throw new ProtocolError('too many client publishes waiting for an earlier client_seq');
      case 'apply':
        for (const due of verdict.due) this.applyPublish(due);
    }
  }

  private applyPublish(publish: Publish): void {
    this.ctx.metrics.upstreamApplied.inc({ transport: this.transport });
    const clientSeq = Number(publish.clientSeq);
    // The ledger lives on the device, so an ack that completes after this connection died is
    // still there for the retry that arrives on the resumed session.
    const ledger = this.ctx.device.upstream;
    this.ctx
      .applyUpstream(this, publish)
      .then((result) => {
        const ack: PublishAck = { clientSeq, messageId: (result && result.messageId) || '' };
        ledger.recordAck(ack);
        this.sendControl(encodeFrame({ publishAck: ack }));
      })
      .catch((error: unknown) => {
        // The publish counts as applied (a handler that throws is not retried), so the client gets
        // an ack without a message id instead of retrying forever.
        this.logger.error({ err: error, clientSeq }, 'upstream handler failed');
        const ack: PublishAck = { clientSeq, messageId: '' };
        ledger.recordAck(ack);
        this.sendControl(encodeFrame({ publishAck: ack }));
      });
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.state !== 'open') return;
    this.pumpScheduled = true;
    // Deferred to the end of the current job, so everything published in one turn is ordered by
    // priority before any of it is written.
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    const inbox = this.ctx.device.inbox;
    while (this.state === 'open' && this.inflight.size < this.ctx.sendWindow && !this.ctx.connection.congested) {
      const next = this.queue.shift();
      if (!next) break;
      const { message } = next;
      if (!inbox.isPending(message.seq) || this.inflight.has(message.seq)) continue;
      // Only a message that already went out on some connection is a retransmission. A message
      // queued while the device was offline goes out for the first time.
      const replay = message.sent === true;
      message.sent = true;
      this.inflight.add(message.seq);
      this.coalescer.add(
        encodeFrame({
          push: {
            messageId: message.messageId,
            seq: message.seq,
            priority: message.priority,
            payload: message.payload,
            publishedAtMs: message.publishedAtMs,
            replay,
          },
        }),
      );
      this.ctx.metrics.pushesSent.inc({ transport: this.transport });
      if (replay) this.ctx.metrics.retransmissions.inc({ transport: this.transport });
    }
  }

  private write(frame: Uint8Array, frameCount: number): void {
    this.ctx.connection.send(frame);
    this.heartbeat.noteSent();
    this.ctx.metrics.framesWritten.inc({ transport: this.transport });
    if (frameCount > 1) this.ctx.metrics.framesCoalesced.inc({ transport: this.transport }, frameCount);
  }

  private failProtocol(error: Error): void {
    const tooLarge = error instanceof FrameTooLargeError;
    this.ctx.metrics.protocolErrors.inc({ transport: this.transport, kind: tooLarge ? 'frame_too_large' : 'malformed' });
    this.logger.warn({ err: error }, 'protocol error, closing session');
    this.close(tooLarge ? CloseCode.FRAME_TOO_LARGE : CloseCode.PROTOCOL_ERROR, error.message);
  }

  private finish(code: CloseCode): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.ctx.device.upstream.dropHeld();
    this.heartbeat.stop();
    this.queue.clear();
    this.inflight.clear();
    this.coalescer.discard();
    this.ctx.metrics.sessionsActive.dec({ transport: this.transport });
    this.ctx.metrics.connectionsClosed.inc({ transport: this.transport, code: CloseCode[code] ?? String(code) });
    this.ctx.onClosed(this, code);
  }
}
