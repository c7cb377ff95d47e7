// The connect phase of a cell: every device connects. When the scenario measures memory, the
// gateway is scraped before and after, and one warm-up device connects first, so one-time costs
// (loading TLS and transport code, first buffers) stay out of the per-session figure.
import { ExperimentError } from './errors.js';
import type { Fleet } from './fleet.js';
import type { HttpTarget } from './http-target.js';
import { scrapeGateway, type GatewaySnapshot } from './metrics-scrape.js';
import type { MemoryPoint, MemoryResult } from './results.js';
import type { Scenario } from './scenario.js';

/** Time for the gateway's memory to settle after connects before a memory scrape. */
const MEMORY_SETTLE_MS = 1_000;

/** Connects every device; returns the memory figures, or null when the scenario skips them. */
export async function connectFleet(fleet: Fleet, scenario: Scenario, http: HttpTarget): Promise<MemoryResult | null> {
  const deadline = Date.now() + scenario.connectTimeoutMs;
  const all = Array.from({ length: scenario.devices }, (_, i) => i);
  if (!scenario.measureMemory) {
    await fleet.connect(all, scenario.connectConcurrency, deadline);
    return null;
  }

  await fleet.connect([0], 1, deadline);
  await sleep(MEMORY_SETTLE_MS);
  const baseline = memoryPoint(await scrapeGateway(http, 'connect'));

  await fleet.connect(all.slice(1), scenario.connectConcurrency, deadline);
  await sleep(MEMORY_SETTLE_MS);
  const connected = memoryPoint(await scrapeGateway(http, 'connect'));

  const measuredSessions = connected.sessions - baseline.sessions;
  if (measuredSessions <= 0) {
    throw new ExperimentError('connect', `the gateway reports ${connected.sessions} sessions with every device connected and ${baseline.sessions} at the baseline`);
  }
  return {
    baseline,
    connected,
    measuredSessions,
    rssPerSessionBytes: (connected.rssBytes - baseline.rssBytes) / measuredSessions,
    heapUsedPerSessionBytes: (connected.heapUsedBytes - baseline.heapUsedBytes) / measuredSessions,
  };
}

function memoryPoint(snapshot: GatewaySnapshot): MemoryPoint {
  return { rssBytes: snapshot.rssBytes, heapUsedBytes: snapshot.heapUsedBytes, sessions: snapshot.sessionsActive };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
