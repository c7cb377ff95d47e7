// The model of one direction of an emulated link: random loss, a FIFO bottleneck (token bucket or
// mahimahi trace) with a byte-limited queue, then propagation delay with jitter. It is pure: it
// opens no sockets and starts no timers, and every call takes the current time, so the relay
// backend and a packet-level backend can share it and tests can drive it with any clock.
import { ConfigError } from '../errors.js';
import { seededRandom, type Random } from '../random.js';
import { loadMahimahiTrace, TraceCapacity, TRACE_OPPORTUNITY_BYTES, type MahimahiTrace } from './mahimahi-trace.js';

/** Settings of one link direction. Every field may change at run time through setConfig. */
export interface LinkDirectionConfig {
  /** One-way propagation delay in ms. */
  delayMs: number;
  /** Each unit's delay varies uniformly within ±jitterMs around delayMs (never below 0). */
  jitterMs: number;
  /** Probability, 0..1, that a unit is lost. */
  lossRate: number;
  /** Bottleneck rate in kbit/s (1 kbit = 1000 bit); unlimited when absent. Ignored with a trace. */
  bandwidthKbps?: number;
  /** Token bucket depth in bytes; defaults to the larger of 1500 bytes and 10 ms at the rate. */
  burstBytes?: number;
  /** Bytes that may wait for the bottleneck; a unit that would exceed it is dropped (tail drop). */
  queueLimitBytes?: number;
  /** A mahimahi trace whose delivery opportunities replace the token bucket. */
  traceFile?: string;
  /** Lets jitter deliver a later unit before an earlier one (datagrams only; default false). */
  reorder?: boolean;
}

export type LinkDropReason = 'loss' | 'queue' | 'blackhole';

export type ScheduleResult =
  | { drop: LinkDropReason }
  | {
      deliverAtMs: number;
      /** The unit was lost but, in retransmit mode, arrives one retransmission timeout later. */
      lossDelayed: boolean;
    };

export interface LinkDirectionOptions {
  /** Source of loss draws and of the seed for jitter draws; pass seededRandom(seed) for repeatable runs. */
  random: Random;
  /** Time 0 of a trace on the caller's clock; defaults to the first schedule() call. */
  startMs?: number;
  /** An already parsed trace, used instead of loading config.traceFile. */
  trace?: MahimahiTrace;
  /** Keeps FIFO delivery even when config.reorder is set (byte streams). */
  keepOrder?: boolean;
}

export interface LinkDirectionStats {
  offeredUnits: number;
  offeredBytes: number;
  acceptedUnits: number;
  acceptedBytes: number;
  dropped: Record<LinkDropReason, number>;
  droppedBytes: number;
  /** Units that were lost in retransmit mode and delivered late instead of dropped. */
  lossDelayedUnits: number;
  /** Largest number of bytes seen waiting for the bottleneck. */
  maxQueueBytes: number;
}

/** Checks a direction config and throws ConfigError naming the bad field and its value. */
export function validateLinkDirectionConfig(config: LinkDirectionConfig, label = 'link'): void {
  const nonNegative = (field: keyof LinkDirectionConfig, value: number | undefined): void => {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new ConfigError(`${label}.${field} must be a finite number >= 0, got ${String(value)}`);
    }
  };
  nonNegative('delayMs', config.delayMs);
  nonNegative('jitterMs', config.jitterMs);
  nonNegative('queueLimitBytes', config.queueLimitBytes);
  if (!(config.lossRate >= 0 && config.lossRate <= 1)) {
    throw new ConfigError(`${label}.lossRate must be between 0 and 1, got ${String(config.lossRate)}`);
  }
  for (const field of ['bandwidthKbps', 'burstBytes'] as const) {
    const value = config[field];
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      throw new ConfigError(`${label}.${field} must be a finite number > 0, got ${String(value)}`);
    }
  }
}

/** A token bucket bottleneck: it starts full and refills at the rate up to its depth. */
class TokenBucket {
  private tokens: number;
  private updatedAtMs: number | undefined;
  private lastDepartureMs = -Infinity;

  constructor(
    private bytesPerMs: number,
    private burstBytes: number,
  ) {
    this.tokens = burstBytes;
  }

  reconfigure(bytesPerMs: number, burstBytes: number): void {
    this.bytesPerMs = bytesPerMs;
    this.burstBytes = burstBytes;
    this.tokens = Math.min(this.tokens, burstBytes);
  }

  transmit(sizeBytes: number, readyMs: number): number {
    const startMs = Math.max(readyMs, this.lastDepartureMs);
    if (this.updatedAtMs !== undefined) {
      this.tokens = Math.min(this.burstBytes, this.tokens + (startMs - this.updatedAtMs) * this.bytesPerMs);
    }
    let departureMs = startMs;
    if (this.tokens >= sizeBytes) {
      this.tokens -= sizeBytes;
    } else {
      // A unit larger than the bucket still passes: it waits until the rate has paid for it.
      departureMs = startMs + (sizeBytes - this.tokens) / this.bytesPerMs;
      this.tokens = 0;
    }
    this.updatedAtMs = departureMs;
    this.lastDepartureMs = departureMs;
    return departureMs;
  }
}

interface QueuedUnit {
  departureMs: number;
  sizeBytes: number;
}

/** One direction of an emulated link. */
export class LinkDirection {
  private config: LinkDirectionConfig;
  private readonly lossRandom: Random;
  /** Separate from loss draws, so units that skip jitter (queue drops) do not shift later loss decisions. */
  private readonly jitterRandom: Random;
  private readonly keepOrder: boolean;
  private readonly injectedTrace: MahimahiTrace | undefined;
  /** Time 0 of the active trace; undefined means the next unit starts it. */
  private traceStartMs: number | undefined;
  private trace: MahimahiTrace | undefined;
  private traceCapacity: TraceCapacity | undefined;
  private bucket: TokenBucket | undefined;
  private blackholed = false;
  private lossDelayMs: number | undefined;
  private lastDeliverAtMs = -Infinity;
  /** Units that have not yet left the bottleneck, oldest first. */
  private readonly waiting: QueuedUnit[] = [];
  private waitingHead = 0;
  private waitingBytes = 0;
  private readonly counters: LinkDirectionStats = {
    offeredUnits: 0,
    offeredBytes: 0,
    acceptedUnits: 0,
    acceptedBytes: 0,
    dropped: { loss: 0, queue: 0, blackhole: 0 },
    droppedBytes: 0,
    lossDelayedUnits: 0,
    maxQueueBytes: 0,
  };

  constructor(config: LinkDirectionConfig, options: LinkDirectionOptions) {
    this.lossRandom = options.random;
    this.jitterRandom = seededRandom(Math.floor(options.random() * 0x1_0000_0000));
    this.keepOrder = options.keepOrder ?? false;
    this.injectedTrace = options.trace;
    this.traceStartMs = options.startMs;
    this.config = config;
    this.setConfig(config);
  }

  /**
   * Replaces the settings. Units already accepted keep their delivery times, and the bucket's
   * tokens and the waiting queue carry over. A new traceFile restarts the trace at the next unit.
   */
  setConfig(config: LinkDirectionConfig): void {
    validateLinkDirectionConfig(config);
    this.config = { ...config };

    if (config.traceFile !== undefined) {
      const trace = this.injectedTrace ?? loadMahimahiTrace(config.traceFile);
      if (trace !== this.trace) {
        // The first trace starts at options.startMs; a trace set later starts with the next unit.
        if (this.trace !== undefined) this.traceStartMs = undefined;
        this.trace = trace;
        this.traceCapacity = undefined;
      }
      this.bucket = undefined;
      return;
    }
    if (this.trace !== undefined) this.traceStartMs = undefined;
    this.trace = undefined;
    this.traceCapacity = undefined;

    if (config.bandwidthKbps === undefined) {
      this.bucket = undefined;
      return;
    }
    const bytesPerMs = config.bandwidthKbps / 8;
    const burstBytes = config.burstBytes ?? Math.max(TRACE_OPPORTUNITY_BYTES, bytesPerMs * 10);
    if (this.bucket === undefined) this.bucket = new TokenBucket(bytesPerMs, burstBytes);
    else this.bucket.reconfigure(bytesPerMs, burstBytes);
  }

  get currentConfig(): Readonly<LinkDirectionConfig> {
    return this.config;
  }

  /** While on, every unit offered is dropped with reason 'blackhole'. */
  setBlackhole(on: boolean): void {
    this.blackholed = on;
  }

  get blackhole(): boolean {
    return this.blackholed;
  }

  /**
   * Switches loss to retransmit mode: a lost unit is delivered `delayMs` late instead of being
   * dropped, which is how a byte-stream relay shows loss. Undefined restores drop mode.
   */
  setLossAsDelay(delayMs: number | undefined): void {
    this.lossDelayMs = delayMs;
  }

  /** Decides the fate of one unit of `sizeBytes` offered at `nowMs`. */
  schedule(sizeBytes: number, nowMs: number): ScheduleResult {
    this.counters.offeredUnits++;
    this.counters.offeredBytes += sizeBytes;

    if (this.blackholed) return this.drop('blackhole', sizeBytes);

    // Loss is drawn first, from its own generator, so the loss decisions depend only on the
    // sequence of units and stay repeatable for a seed when queue drops or timing differ.
    let lost = false;
    if (this.config.lossRate > 0 && this.lossRandom() < this.config.lossRate) {
      if (this.lossDelayMs === undefined) return this.drop('loss', sizeBytes);
      lost = true;
    }

    const backlog = this.backlogBytes(nowMs);
    const limit = this.config.queueLimitBytes;
    // A unit that finds the queue empty always enters, so a limit below one unit cannot stall the link.
    if (limit !== undefined && backlog > 0 && backlog + sizeBytes > limit) return this.drop('queue', sizeBytes);

    const departureMs = this.depart(sizeBytes, nowMs);
    if (departureMs > nowMs) {
      this.waiting.push({ departureMs, sizeBytes });
      this.waitingBytes += sizeBytes;
      this.counters.maxQueueBytes = Math.max(this.counters.maxQueueBytes, this.waitingBytes);
    }

    let delayMs = this.config.delayMs;
    if (this.config.jitterMs > 0) delayMs = Math.max(0, delayMs + (this.jitterRandom() * 2 - 1) * this.config.jitterMs);
    let deliverAtMs = departureMs + delayMs + (lost ? (this.lossDelayMs ?? 0) : 0);
    const reorder = this.config.reorder === true && !this.keepOrder;
    if (!reorder) deliverAtMs = Math.max(deliverAtMs, this.lastDeliverAtMs);
    this.lastDeliverAtMs = Math.max(this.lastDeliverAtMs, deliverAtMs);

    this.counters.acceptedUnits++;
    this.counters.acceptedBytes += sizeBytes;
    if (lost) this.counters.lossDelayedUnits++;
    return { deliverAtMs, lossDelayed: lost };
  }

  /** Bytes accepted but not yet through the bottleneck at `nowMs`. */
  backlogBytes(nowMs: number): number {
    while (this.waitingHead < this.waiting.length) {
      const head = this.waiting[this.waitingHead] as QueuedUnit;
      if (head.departureMs > nowMs) break;
      this.waitingBytes -= head.sizeBytes;
      this.waitingHead++;
    }
    // Compact now and then so a long-running link does not keep every unit it ever queued.
    if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting.splice(0, this.waitingHead);
      this.waitingHead = 0;
    }
    return this.waitingBytes;
  }

  /** Earliest time at which the backlog is at most `bytes`; `nowMs` when it already is. */
  backlogDrainedAtMs(bytes: number, nowMs: number): number {
    let remaining = this.backlogBytes(nowMs);
    if (remaining <= bytes) return nowMs;
    for (let i = this.waitingHead; i < this.waiting.length; i++) {
      const unit = this.waiting[i] as QueuedUnit;
      remaining -= unit.sizeBytes;
      if (remaining <= bytes) return unit.departureMs;
    }
    return nowMs;
  }

  stats(): LinkDirectionStats {
    return { ...this.counters, dropped: { ...this.counters.dropped } };
  }

  private depart(sizeBytes: number, nowMs: number): number {
    if (this.trace !== undefined) {
      if (this.traceCapacity === undefined) {
        this.traceStartMs ??= nowMs;
        this.traceCapacity = new TraceCapacity(this.trace, this.traceStartMs);
      }
      return this.traceCapacity.transmit(sizeBytes, nowMs);
    }
    if (this.bucket !== undefined) return this.bucket.transmit(sizeBytes, nowMs);
    return nowMs;
  }

  private drop(reason: LinkDropReason, sizeBytes: number): ScheduleResult {
    this.counters.dropped[reason]++;
    this.counters.droppedBytes += sizeBytes;
    return { drop: reason };
  }
}
