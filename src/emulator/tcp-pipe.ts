// One direction of one relayed TCP connection: reads chunks from the source socket, passes them
// through the shared link model of its direction and writes them to the destination socket in
// order. The end of the stream (FIN) and an abort (RST) travel as items behind the data, so a
// blackhole keeps them back exactly like data and the other side notices nothing until it ends.
import type { Socket } from 'node:net';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import { DeliveryQueue } from './delivery-queue.js';
import type { LinkDirection } from './link-model.js';
import type { DirectionCounters } from './relay-types.js';

/** Reads are split into pieces of at most this size so bandwidth shaping and loss stay fine-grained. */
export const TCP_PIECE_BYTES = 16 * 1024;
/** Bytes one connection direction may hold during a blackhole when the profile sets no queue limit. */
export const DEFAULT_TCP_HOLD_LIMIT_BYTES = 1024 * 1024;
/**
 * Bytes accepted by the link but not yet written out (propagation delay in flight). Reading pauses
 * above it, which bounds memory when a fast sender meets a long delay without a bandwidth limit.
 */
export const MAX_TCP_IN_FLIGHT_BYTES = 4 * 1024 * 1024;

type PipeItem = { kind: 'data'; data: Buffer } | { kind: 'end' } | { kind: 'reset' };

export interface TcpPipeContext {
  clock: Clock;
  logger: Logger;
  link: LinkDirection;
  counters: DirectionCounters;
  isBlackholed(): boolean;
  /** The profile's queue limit for this direction, if any. */
  queueLimitBytes(): number | undefined;
  /** Called after each chunk written to the destination (refreshes the NAT idle timer). */
  onDelivered(): void;
}

export class TcpPipe {
  private source: Socket | undefined;
  private dest: Socket | undefined;
  private readonly held: PipeItem[] = [];
  private heldBytes = 0;
  private inFlightBytes = 0;
  private lastDeliverAtMs = -Infinity;
  private readonly queue: DeliveryQueue<PipeItem>;
  private paused = false;
  private destBlocked = false;
  private sourceFinished = false;
  private dead = false;
  private pressureTimer: TimerHandle | undefined;

  constructor(private readonly context: TcpPipeContext) {
    this.queue = new DeliveryQueue(context.clock, (item) => this.deliver(item));
  }

  /** True while items wait for the blackhole to end. */
  get holding(): boolean {
    return this.held.length > 0;
  }

  attachSource(socket: Socket): void {
    this.source = socket;
    socket.on('data', (chunk: Buffer) => this.onSourceData(chunk));
    socket.on('end', () => this.onSourceFinished({ kind: 'end' }));
  }

  attachDest(socket: Socket): void {
    this.dest = socket;
    // A destination that closes while blocked never emits 'drain'; stop waiting for it.
    socket.on('close', () => {
      this.destBlocked = false;
      this.updatePressure();
    });
  }

  /** Queues an abort for the other side, because the source closed without a FIN (RST, error or failed connect). */
  onSourceAborted(): void {
    this.onSourceFinished({ kind: 'reset' });
  }

  /** Moves held items into the link once the blackhole has ended. */
  release(): void {
    while (this.held.length > 0 && !this.context.isBlackholed()) {
      const item = this.held.shift() as PipeItem;
      if (item.kind === 'data') this.heldBytes -= item.data.length;
      this.admit(item);
    }
    this.updatePressure();
  }

  /**
   * Emulates a NAT that forgot the connection: everything waiting is discarded, later data is
   * read and discarded, and neither FIN nor RST is passed on.
   */
  kill(): void {
    if (this.dead) return;
    this.dead = true;
    for (const item of [...this.held.splice(0), ...this.queue.clear()]) {
      if (item.kind === 'data') this.context.counters.dropped('nat', item.data.length);
    }
    this.heldBytes = 0;
    this.inFlightBytes = 0;
    this.updatePressure();
  }

  dispose(): void {
    this.queue.close();
    this.pressureTimer?.cancel();
    this.pressureTimer = undefined;
  }

  private onSourceData(chunk: Buffer): void {
    if (this.dead) {
      this.context.counters.dropped('nat', chunk.length);
      return;
    }
    for (let offset = 0; offset < chunk.length; offset += TCP_PIECE_BYTES) {
      this.enqueue({ kind: 'data', data: chunk.subarray(offset, offset + TCP_PIECE_BYTES) });
    }
    this.updatePressure();
  }

  private onSourceFinished(item: PipeItem): void {
    if (this.sourceFinished) return;
    this.sourceFinished = true;
    if (this.dead) return;
    this.enqueue(item);
  }

  private enqueue(item: PipeItem): void {
    // Once anything is held, later items queue behind it to keep the byte stream in order.
    if (this.held.length > 0 || this.context.isBlackholed()) {
      this.held.push(item);
      if (item.kind === 'data') {
        this.heldBytes += item.data.length;
        this.context.counters.held(this.heldBytes);
      }
      return;
    }
    this.admit(item);
  }

  private admit(item: PipeItem): void {
    const now = this.context.clock.now();
    let deliverAtMs: number;
    if (item.kind === 'data') {
      const result = this.context.link.schedule(item.data.length, now);
      // The relay strips queue limits and never blackholes the model, so a drop cannot happen.
      // Should one slip through, the bytes still go out, because a byte stream cannot lose them.
      deliverAtMs = 'drop' in result ? now : result.deliverAtMs;
      this.inFlightBytes += item.data.length;
    } else {
      deliverAtMs = now + this.context.link.currentConfig.delayMs;
    }
    deliverAtMs = Math.max(deliverAtMs, this.lastDeliverAtMs);
    this.lastDeliverAtMs = deliverAtMs;
    this.queue.push(deliverAtMs, item);
  }

  private deliver(item: PipeItem): void {
    const dest = this.dest;
    if (item.kind !== 'data') {
      if (dest === undefined || dest.destroyed) return;
      if (item.kind === 'end') dest.end();
      else dest.resetAndDestroy();
      return;
    }

    this.inFlightBytes -= item.data.length;
    if (dest === undefined || dest.destroyed || !dest.writable) {
      this.context.counters.dropped('closed', item.data.length);
      this.updatePressure();
      return;
    }
    const accepted = dest.write(item.data);
    this.context.counters.forwarded(item.data.length);
    this.context.onDelivered();
    if (!accepted && !this.destBlocked) {
      this.destBlocked = true;
      dest.once('drain', () => {
        this.destBlocked = false;
        this.updatePressure();
      });
    }
    this.updatePressure();
  }

  /** Pauses or resumes reading from the source according to the limits. */
  private updatePressure(): void {
    const source = this.source;
    if (source === undefined || source.destroyed) return;

    const now = this.context.clock.now();
    const queueLimit = this.context.queueLimitBytes();
    const holdLimit = queueLimit ?? DEFAULT_TCP_HOLD_LIMIT_BYTES;
    const overBacklog = queueLimit !== undefined && this.context.link.backlogBytes(now) > queueLimit;
    const shouldPause =
      !this.dead && (this.heldBytes > holdLimit || this.inFlightBytes > MAX_TCP_IN_FLIGHT_BYTES || this.destBlocked || overBacklog);

    if (shouldPause && !this.paused) {
      this.paused = true;
      source.pause();
    } else if (!shouldPause && this.paused) {
      this.paused = false;
      source.resume();
    }

    // The backlog is shared with other connections, so no delivery of this pipe may come to
    // resume it. A timer wakes it when the link's backlog has drained to the limit.
    if (overBacklog && this.pressureTimer === undefined && queueLimit !== undefined) {
      const drainedAtMs = this.context.link.backlogDrainedAtMs(queueLimit, now);
      this.pressureTimer = this.context.clock.setTimeout(() => {
        this.pressureTimer = undefined;
        this.updatePressure();
      }, Math.ceil(drainedAtMs - now) + 1);
    }
  }
}
