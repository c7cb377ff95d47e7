// Items waiting for their delivery time, released in (time, insertion) order by one clock timer.
// Relays use one queue per direction (datagrams) or per connection direction (byte streams), so
// units with equal times keep their order regardless of how the host's timers round.
import type { Clock, TimerHandle } from '../clock.js';

/**
 * Timers fire on whole milliseconds and the event loop's cached time may trail the clock, so an
 * item due within this margin is released with the current batch rather than re-armed.
 */
const RELEASE_MARGIN_MS = 1;

interface Entry<T> {
  atMs: number;
  item: T;
}

export class DeliveryQueue<T> {
  /** Pending entries are entries[head..]; the consumed prefix is compacted away now and then. */
  private entries: Entry<T>[] = [];
  private head = 0;
  private timer: TimerHandle | undefined;
  private timerAtMs = Infinity;
  private flushing = false;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly deliver: (item: T) => void,
  ) {}

  get size(): number {
    return this.entries.length - this.head;
  }

  /** Adds an item due at `atMs`; items already due are delivered before this call returns. */
  push(atMs: number, item: T): void {
    if (this.closed) return;
    // Insert after every entry due at or before atMs, so equal times keep insertion order.
    let low = this.head;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.entries[middle] as Entry<T>).atMs <= atMs) low = middle + 1;
      else high = middle;
    }
    this.entries.splice(low, 0, { atMs, item });
    this.flush();
  }

  /** Removes every waiting item without delivering it and returns them in order. */
  clear(): T[] {
    const items = this.entries.slice(this.head).map((entry) => entry.item);
    this.entries = [];
    this.head = 0;
    this.disarm();
    return items;
  }

  /** Drops everything and ignores later pushes. */
  close(): void {
    this.closed = true;
    this.clear();
  }

  private flush(): void {
    // A deliver callback may push again; the outer loop picks those entries up.
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (;;) {
        const next = this.entries[this.head];
        if (next === undefined || next.atMs > this.clock.now() + RELEASE_MARGIN_MS) break;
        this.head++;
        this.deliver(next.item);
      }
    } finally {
      this.flushing = false;
    }
    // Shifting one entry at a time would cost O(n) per delivery with thousands of datagrams in flight.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
    this.arm();
  }

  private arm(): void {
    const next = this.entries[this.head];
    if (next === undefined) {
      this.disarm();
      return;
    }
    if (this.timer !== undefined && this.timerAtMs <= next.atMs) return;
    this.disarm();
    this.timerAtMs = next.atMs;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerAtMs = Infinity;
      this.flush();
    }, Math.ceil(next.atMs - this.clock.now()));
  }

  private disarm(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAtMs = Infinity;
  }
}
