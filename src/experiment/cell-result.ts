// Turns what one transport × profile run collected into its CellResult: summaries of the samples,
// heartbeat bytes scaled to a device-hour, and the gateway's and link's counters.
import type { DeliveryLedger } from './delivery-ledger.js';
import type { FleetSummary } from './device-fleet.js';
import type { LinkReport } from './link-backend.js';
import type { GatewaySnapshot } from './metrics-scrape.js';
import type { CellResult, MemoryResult } from './results.js';
import type { Scenario } from './scenario.js';
import { summarize } from './stats.js';

const MS_PER_HOUR = 3_600_000;

export interface CellOutcome {
  scenario: Scenario;
  transport: string;
  ipProtocol: 'tcp' | 'udp';
  profile: string;
  /** Epoch ms. */
  startedAt: number;
  phasesMs: CellResult['phasesMs'];
  failure: CellResult['failure'];
  ledger: DeliveryLedger;
  highPriority: number;
  /** Epoch ms at which the outage began; Infinity when there was none. */
  outageStartedAt: number;
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
    status: outcome.failure === null ? 'passed' : 'failed',
    failure: outcome.failure,
    startedAt: new Date(outcome.startedAt).toISOString(),
    durationMs: Date.now() - outcome.startedAt,
    phasesMs: outcome.phasesMs,
    devices: scenario.devices,
    connectMs: summarize(fleet?.initialConnectMs ?? []),
    reconnectMs: summarize(fleet?.reconnectConnectMs ?? []),
    latencyMs: summarize(ledger.latenciesMs()),
    steadyLatencyMs: summarize(ledger.latenciesMs(outcome.outageStartedAt)),
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
