// Time source for every timer in the session core. Production code uses systemClock; tests use
// VirtualClock to run hours of heartbeat and back-off behaviour in milliseconds, deterministically.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch (virtual clocks start at an arbitrary instant). */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
}

export const systemClock: Clock = {
  // Wall-clock milliseconds, so timestamps compare across processes on one machine (delivery
  // latency is measured from a publish in the gateway to a receive in a client process).
  now: () => Date.now(),
  setTimeout(callback, delayMs) {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    // Timers must never keep a process alive on their own; sockets do that.
    timer.unref?.();
    return { cancel: () => clearTimeout(timer) };
  },
};

interface VirtualTimer {
  id: number;
  dueAt: number;
  callback: () => void;
}

/**
 * A clock that moves only when a test calls advance(). Timers due at the same instant fire in the
 * order they were created.
 */
export class VirtualClock implements Clock {
  private current: number;
  private nextId = 0;
  private timers: VirtualTimer[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer: VirtualTimer = { id: this.nextId++, dueAt: this.current + Math.max(0, delayMs), callback };
    this.timers.push(timer);
    return { cancel: () => { this.timers = this.timers.filter((t) => t !== timer); } };
  }

  /** Number of timers still pending. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, including ones they schedule. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => t.dueAt <= target)
        .sort((a, b) => a.dueAt - b.dueAt || a.id - b.id)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.current = Math.max(this.current, due.dueAt);
      due.callback();
    }
    this.current = target;
  }
}
