// Blackhole switching with timed restores and scheduled windows, shared by the relay facade
// (LinkEmulator) and the packet-level backend. A later blackhole() or restore() of a direction
// cancels its timed restore, and a window whose start has passed begins at once.
import type { Clock, TimerHandle } from '../clock.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { BlackholeDirection, ScheduledBlackhole } from './emulator.js';
import type { LinkSide } from './relay-types.js';

function sidesOf(direction: BlackholeDirection): LinkSide[] {
  if (direction === 'both') return ['up', 'down'];
  if (direction === 'up' || direction === 'down') return [direction];
  throw new ConfigError(`blackhole direction must be "up", "down" or "both", got ${JSON.stringify(direction)}`);
}

function validateDuration(name: string, value: number): void {
  if (!(Number.isFinite(value) && value >= 0)) throw new ConfigError(`${name} must be a finite number of ms >= 0, got ${String(value)}`);
}

export class BlackholeControl {
  private readonly restoreTimers: Record<LinkSide, TimerHandle | undefined> = { up: undefined, down: undefined };
  private readonly scheduled = new Set<TimerHandle>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Time that scheduled windows are relative to. */
    private readonly startedAtMs: number,
    private readonly apply: (side: LinkSide, on: boolean) => void,
  ) {}

  blackhole(direction: BlackholeDirection): void {
    for (const side of sidesOf(direction)) {
      this.cancelRestore(side);
      this.apply(side, true);
    }
    this.logger.info({ direction }, 'blackhole started');
  }

  restore(): void {
    for (const side of ['up', 'down'] as const) {
      this.cancelRestore(side);
      this.apply(side, false);
    }
    this.logger.info('blackhole ended');
  }

  blackholeFor(durationMs: number, direction: BlackholeDirection): void {
    validateDuration('durationMs', durationMs);
    const sides = sidesOf(direction);
    this.blackhole(direction);
    for (const side of sides) {
      this.restoreTimers[side] = this.clock.setTimeout(() => {
        this.restoreTimers[side] = undefined;
        this.apply(side, false);
        this.logger.info({ direction: side, durationMs }, 'timed blackhole ended');
      }, durationMs);
    }
  }

  schedule(windows: readonly ScheduledBlackhole[]): void {
    // Validate every window first, so an invalid one schedules none.
    for (const window of windows) {
      validateDuration('atMs', window.atMs);
      validateDuration('durationMs', window.durationMs);
      sidesOf(window.direction);
    }
    for (const window of windows) {
      const handle = this.clock.setTimeout(() => {
        this.scheduled.delete(handle);
        this.blackholeFor(window.durationMs, window.direction);
      }, this.startedAtMs + window.atMs - this.clock.now());
      this.scheduled.add(handle);
    }
  }

  /** Cancels every pending restore and scheduled window; the current blackhole state stays. */
  cancelAll(): void {
    for (const handle of this.scheduled) handle.cancel();
    this.scheduled.clear();
    this.cancelRestore('up');
    this.cancelRestore('down');
  }

  private cancelRestore(side: LinkSide): void {
    this.restoreTimers[side]?.cancel();
    this.restoreTimers[side] = undefined;
  }
}
