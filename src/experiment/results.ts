// The shape of an experiment's results: one CellResult per transport × link profile, gathered in
// an ExperimentReport. results/<scenario>-<time>.json contains exactly this, and
// docs/EXPERIMENTS.md explains each field.
import type { DeliveryCounts } from './delivery-ledger.js';
import type { ExperimentPhase } from './errors.js';
import type { KernelTcpCounters } from './kernel-tcp.js';
import type { BackendName, LinkReport } from './link-backend.js';
import type { LinkEvent, OutageSpec, Scenario } from './scenario.js';
import type { StallSummary } from './stalls.js';
import type { Summary } from './stats.js';
import type { DeviceTransportCounters } from './transport-counters.js';

export interface MemoryPoint {
  rssBytes: number;
  heapUsedBytes: number;
  sessions: number;
}

export interface MemoryResult {
  /** Gateway memory with only the warm-up device connected. */
  baseline: MemoryPoint;
  /** Gateway memory with every device connected. */
  connected: MemoryPoint;
  /** Sessions the delta is divided by: connected minus baseline sessions. */
  measuredSessions: number;
  rssPerSessionBytes: number;
  heapUsedPerSessionBytes: number;
}

/** Retransmissions at each layer that could be measured; null where the layer exposes nothing. */
export interface RetransmissionResult {
  /** Pushes the gateway sent again after a resume (pushlab_push_retransmissions_total). */
  sessionReplays: number | null;
  /** The gateway transports' own count, when the gateway exports pushlab_transport_retransmissions_total. */
  gatewayTransport: number | null;
  /** Counters of the devices' connections (UDP transport counters, quiche stats). */
  deviceTransport: DeviceTransportCounters | null;
  /** Kernel TCP counter increases in each namespace over the cell (packet backend only). */
  kernelTcp: { gateway: KernelTcpCounters; client: KernelTcpCounters } | null;
}

/** A link event of the cell and what became of it. */
export interface LinkEventResult {
  event: LinkEvent;
  /** Ms after the publish phase started at which it was applied; null when it never ran. */
  appliedAtMs: number | null;
  /** Reason the backend did not apply it; null when it did. */
  skipped: string | null;
}

export interface CellResult {
  transport: string;
  ipProtocol: 'tcp' | 'udp';
  profile: string;
  /** The link backend that ran this cell. */
  backend: BackendName;
  /** Length of the publish phase, in ms (the profile's own or the scenario's). */
  publishDurationMs: number;
  status: 'passed' | 'failed';
  /** The first thing that went wrong; later phases were skipped. */
  failure: { phase: ExperimentPhase; message: string } | null;
  startedAt: string;
  durationMs: number;
  /** Wall time of each phase that ran, in ms. */
  phasesMs: Partial<Record<ExperimentPhase, number>>;
  devices: number;
  /** Dial-to-welcome of each device's first connect. */
  connectMs: Summary | null;
  /** Dial-to-welcome of reconnects after the outage. */
  reconnectMs: Summary | null;
  /** Client receive time minus gateway publish time, first receipts only. */
  latencyMs: Summary | null;
  /** The same for messages published before the first link event: the link's steady state. */
  steadyLatencyMs: Summary | null;
  /** Head-of-line stalls; null when no message was delivered. */
  stalls: StallSummary | null;
  retransmissions: RetransmissionResult;
  /** Units (packets, datagrams or TCP chunks) the link model lost in each direction. */
  linkLoss: { up: number; down: number } | null;
  events: LinkEventResult[];
  messages: DeliveryCounts & { highPriority: number };
  heartbeat: {
    /** Ping and pong frame bytes, summed over devices. */
    bytes: number;
    connectedDeviceHours: number;
    /** bytes / connectedDeviceHours; null when no device was connected. */
    bytesPerDeviceHour: number | null;
    clientTimeouts: number;
    gatewayTimeouts: number;
  };
  reconnects: number;
  failedAttempts: number;
  gaps: number;
  transportDuplicatesFiltered: number;
  clientWarnings: Record<string, number>;
  memory: MemoryResult | null;
  gateway: {
    pushesSent: number;
    retransmissions: number;
    resumes: Record<string, number>;
    handshakes: Record<string, number>;
    inboxPendingAtEnd: number;
  } | null;
  outage: (OutageSpec & { exceedsHeartbeatDeadline: boolean }) | null;
  link: LinkReport | null;
}

export interface ExperimentReport {
  scenario: Scenario;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  environment: { node: string; platform: string; arch: string; cpus: number; cpuModel: string; totalMemoryBytes: number };
  /** The link backend that ran (every cell uses the same one). */
  backend: BackendName;
  /** The backend the scenario requested. */
  backendRequested: Scenario['backend'];
  /** Reason 'auto' fell back to the relay; null otherwise. */
  backendFallbackReason: string | null;
  outcome: 'passed' | 'failed';
  /** One line per failed cell or per cell with lost or duplicated messages. */
  failures: string[];
  /** Transports named by the scenario that the registry does not have. */
  skipped: { transport: string; reason: string }[];
  cells: CellResult[];
}
