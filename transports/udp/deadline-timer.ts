// A timer armed for the earliest of several deadlines. Callers move it earlier with ensureBy().
// The owner finds a later deadline when the timer fires and re-arms it, so a busy connection does
// not cancel and create a timer for every packet.
import type { Clock, TimerHandle } from '../../src/clock.js';

export class DeadlineTimer {
  private handle: TimerHandle | null = null;
  private dueAt = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly onFire: () => void,
  ) {}

  get armedAt(): number {
    return this.dueAt;
  }

  /** Makes sure the timer fires no later than `at` (a clock time in milliseconds). */
  ensureBy(at: number): void {
    if (this.handle && this.dueAt <= at) return;
    this.handle?.cancel();
    this.dueAt = at;
    this.handle = this.clock.setTimeout(() => {
      this.handle = null;
      this.dueAt = Infinity;
      this.onFire();
    }, at - this.clock.now());
  }

  cancel(): void {
    this.handle?.cancel();
    this.handle = null;
    this.dueAt = Infinity;
  }
}
