// Runs a cell's link events (blackholes, NAT rebinding) on their schedule during the publish
// phase, and records when each one happened and whether the backend could apply it.
import type { Logger } from '../logger.js';
import type { EmulatedLink } from './link-backend.js';
import type { LinkEvent } from './scenario.js';

export interface LinkEventRecord {
  event: LinkEvent;
  /** Epoch ms at which the runner applied it; null when the publish phase ended first. */
  appliedAt: number | null;
  /** Reason the backend did not apply it (a TCP rebind on the relay); null when it did. */
  skipped: string | null;
}

export class LinkEventSchedule {
  readonly records: LinkEventRecord[];
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(events: readonly LinkEvent[]) {
    this.records = events.map((event) => ({ event, appliedAt: null, skipped: null }));
  }

  /** Starts the timers; event times count from now. */
  start(link: EmulatedLink, logger: Logger): void {
    for (const record of this.records) {
      this.timers.push(setTimeout(() => this.apply(record, link, logger), record.event.atMs));
    }
  }

  /** Cancels events that have not happened yet (a blackhole already begun still ends on time). */
  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.length = 0;
  }

  private apply(record: LinkEventRecord, link: EmulatedLink, logger: Logger): void {
    const event = record.event;
    record.appliedAt = Date.now();
    if (event.type === 'blackhole') {
      logger.info({ durationMs: event.durationMs, direction: event.direction }, 'link blackhole starts');
      link.blackholeFor(event.durationMs, event.direction);
      return;
    }
    record.skipped = link.rebind();
    if (record.skipped === null) logger.info('link NAT mappings rebound');
    else logger.warn({ reason: record.skipped }, 'link rebind skipped');
  }
}
