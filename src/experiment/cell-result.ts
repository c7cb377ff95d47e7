// Turns what one transport × profile run collected into its CellResult: summaries of the samples,
// heartbeat bytes scaled to a device-hour, and the gateway's and link's counters.
import type { DeliveryLedger } from './delivery-ledger.js';
import type { FleetSummary } from './fleet.js';
import { tcpCounterDelta } from './kernel-tcp.js';
import type { BackendName, LinkReport, LinkTcpCounters } from './link-backend.js';
import type { LinkEventRecord } from './link-events.js';
import type { GatewaySnapshot } from './metrics-scrape.js';
import type { CellResult, MemoryResult } from './results.js';
import type { Scenario } from './scenario.js';
import { computeStalls } from './stalls.js';
import { summarize } from './stats.js';

const MS_PER_HOUR = 3_600_000;

export interface CellOutcome {
  scenario: Scenario;
  transport: string;
  ipProtocol: 'tcp' | 'udp';
  profile: string;
  backend: BackendName;
  publishDurationMs: number;
  /** Epoch ms. */
  startedAt: number;
  phasesMs: CellResult['phasesMs'];
  failure: CellResult['failure'];
  ledger: DeliveryLedger;
  highPriority: number;
  /** Epoch ms at which the publish phase began; null when it never did. */
  publishStartedAt: number | null;
  /** The cell's link events and when each ran. */
  events: readonly LinkEventRecord[];
  /** Stall threshold θ of the profile, in ms. */
  stallThresholdMs: number;
  /** Kernel TCP counters before the devices connected and at teardown; null for the relay. */
  tcpBefore: LinkTcpCounters | null;
  tcpAfter: LinkTcpCounters | null;
  /** Null when the run failed before the devices existed; likewise for the fields below. */
  fleet: FleetSummary | null;
  memory: MemoryResult | null;
  gateway: GatewaySnapshot | null;
  link: LinkReport | null;
}

export function buildCellResult(outcome: CellOutcome): CellResult {
  const { scenario, fleet, gateway, ledger } = outcome;
  const connectedHours = (fleet?.connectedMs ?? 0) / MS_PER_HOUR;
  const heartbeatBytes = fleet?.heartbeatBytes ?? 0;
  return {
    transport: outcome.transport,
    ipProtocol: outcome.ipProtocol,
    profile: outcome.profile,
    backend: outcome.backend,
    publishDurationMs: outcome.publishDurationMs,
    status: outcome.failure === null ? 'passed' : 'failed',
    failure: outcome.failure,
    startedAt: new Date(outcome.startedAt).toISOString(),
    durationMs: Date.now() - outcome.startedAt,
    phasesMs: outcome.phasesMs,
    devices: scenario.devices,
    connectMs: summarize(fleet?.initialConnectMs ?? []),
    reconnectMs: summarize(fleet?.reconnectConnectMs ?? []),
    latencyMs: summarize(ledger.latenciesMs()),
    steadyLatencyMs: summarize(ledger.latenciesMs(firstDisruptionAt(outcome.events))),
    stalls: ledger.delivered === 0 ? null : computeStalls(ledger.deliveredMessages(), outcome.stallThresholdMs),
    retransmissions: {
      sessionReplays: gateway?.retransmissions ?? null,
      gatewayTransport: gateway?.transportRetransmissions ?? null,
      deviceTransport: fleet?.transport ?? null,
      kernelTcp:
        outcome.tcpBefore && outcome.tcpAfter
          ? { gateway: tcpCounterDelta(outcome.tcpBefore.gateway, outcome.tcpAfter.gateway), client: tcpCounterDelta(outcome.tcpBefore.client, outcome.tcpAfter.client) }
          : null,
    },
    linkLoss: outcome.link && linkLoss(outcome.link),
    events: outcome.events.map((record) => ({
      event: record.event,
      appliedAtMs: record.appliedAt === null || outcome.publishStartedAt === null ? null : record.appliedAt - outcome.publishStartedAt,
      skipped: record.skipped,
    })),
    messages: { ...ledger.counts(), highPriority: outcome.highPriority },
    heartbeat: {
      bytes: heartbeatBytes,
      connectedDeviceHours: connectedHours,
      bytesPerDeviceHour: connectedHours > 0 ? heartbeatBytes / connectedHours : null,
      clientTimeouts: fleet?.heartbeatTimeouts ?? 0,
      gatewayTimeouts: gateway?.heartbeatTimeouts ?? 0,
    },
    reconnects: fleet?.reconnects ?? 0,
    failedAttempts: fleet?.failedAttempts ?? 0,
    gaps: fleet?.gaps ?? 0,
    transportDuplicatesFiltered: fleet?.transportDuplicatesFiltered ?? 0,
    clientWarnings: fleet?.warnings ?? {},
    memory: outcome.memory,
    gateway: gateway && {
      pushesSent: gateway.pushesSent,
      retransmissions: gateway.retransmissions,
      resumes: gateway.resumes,
      handshakes: gateway.handshakes,
      inboxPendingAtEnd: gateway.inboxPending,
    },
    outage: scenario.outage && {
      ...scenario.outage,
      exceedsHeartbeatDeadline: scenario.outage.durationMs > scenario.heartbeat.intervalMs + scenario.heartbeat.timeoutMs,
    },
    link: outcome.link,
  };
}

/** Epoch ms of the first link event that took effect; Infinity when none did. */
function firstDisruptionAt(events: readonly LinkEventRecord[]): number {
  let first = Infinity;
  for (const record of events) if (record.appliedAt !== null && record.skipped === null) first = Math.min(first, record.appliedAt);
  return first;
}

/**
 * Units the link model lost per direction: dropped with reason 'loss' and, on the TCP relay,
 * chunks it delivered late in place of a loss (`lossDelayedUnits`).
 */
function linkLoss(link: LinkReport): { up: number; down: number } | null {
  const counters = link.counters as { up?: LossCounters; down?: LossCounters } | null;
  if (!counters?.up || !counters.down) return null;
  const lost = (side: LossCounters): number => (side.dropped?.loss ?? 0) + (side.lossDelayedUnits ?? 0);
  return { up: lost(counters.up), down: lost(counters.down) };
}

interface LossCounters {
  dropped?: { loss?: number };
  lossDelayedUnits?: number;
}
