// Small-frame coalescing: frames produced close together travel as one Batch frame in one write,
// which saves syscalls, TLS records and packets when many small pushes or acks go out at once.
import type { Clock, TimerHandle } from '../clock.js';
import { encodeFrame } from '../codec/frame-codec.js';
import { varintLength } from '../codec/varint.js';

export interface CoalescingOptions {
  /** Off sends every frame in its own write. */
  enabled: boolean;
  /** Flush as soon as the batch would exceed this many bytes (capped by the max frame size). */
  maxBytes: number;
  /**
   * Flush this long after the first frame of a batch. 0 flushes at the end of the current
   * event-loop turn, which merges bursts without adding latency.
   */
  maxDelayMs: number;
}

export const COALESCING_DEFAULTS: CoalescingOptions = { enabled: true, maxBytes: 16 * 1024, maxDelayMs: 0 };

/** Encoded size of one element of Batch.frames (field tag, length prefix, body). */
function elementSize(frameLength: number): number {
  return 1 + varintLength(frameLength) + frameLength;
}

/** Encoded size of a Frame whose batch field holds `innerBytes` of elements. */
function batchFrameSize(innerBytes: number): number {
  return 1 + varintLength(innerBytes) + innerBytes;
}

export type CoalescedWrite = (frame: Uint8Array, frameCount: number) => void;

export class Coalescer {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private timer: TimerHandle | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private readonly maxBytes: number;

  constructor(
    private readonly options: CoalescingOptions,
    maxFrameSize: number,
    private readonly clock: Clock,
    private readonly write: CoalescedWrite,
  ) {
    this.maxBytes = Math.min(options.maxBytes, maxFrameSize);
  }

  /** Queues one encoded frame; it is written by the time the flush delay has passed. */
  add(frame: Uint8Array): void {
    if (!this.options.enabled) {
      this.write(frame, 1);
      return;
    }
    const size = elementSize(frame.length);
    if (this.pending.length > 0 && batchFrameSize(this.pendingBytes + size) > this.maxBytes) this.flush();
    if (batchFrameSize(size) > this.maxBytes) {
      // Too big to share a batch: it goes alone, after whatever was queued before it.
      this.write(frame, 1);
      return;
    }
    this.pending.push(frame);
    this.pendingBytes += size;
    this.scheduleFlush();
  }

  /** Writes everything queued now. */
  flush(): void {
    this.cancelTimers();
    const frames = this.pending;
    if (frames.length === 0) return;
    this.pending = [];
    this.pendingBytes = 0;
    if (frames.length === 1) {
      this.write(frames[0]!, 1);
      return;
    }
    this.write(encodeFrame({ batch: { frames } }), frames.length);
  }

  /** Drops queued frames without writing them (the connection is gone). */
  discard(): Uint8Array[] {
    this.cancelTimers();
    const frames = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    return frames;
  }

  private scheduleFlush(): void {
    if (this.timer || this.immediate) return;
    if (this.options.maxDelayMs > 0) {
      this.timer = this.clock.setTimeout(() => {
        this.timer = null;
        this.flush();
      }, this.options.maxDelayMs);
    } else {
      this.immediate = setImmediate(() => {
        this.immediate = null;
        this.flush();
      });
    }
  }

  private cancelTimers(): void {
    this.timer?.cancel();
    this.timer = null;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
  }
}
