// The shape of an experiment's results: one CellResult per transport × link profile, gathered in
// an ExperimentReport. results/<scenario>-<time>.json contains exactly this, and
// docs/EXPERIMENTS.md explains each field.
import type { DeliveryCounts } from './delivery-ledger.js';
import type { ExperimentPhase } from './errors.js';
import type { LinkReport } from './link-backend.js';
import type { OutageSpec, Scenario } from './scenario.js';
import type { Summary } from './stats.js';

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

export interface CellResult {
  transport: string;
  ipProtocol: 'tcp' | 'udp';
  profile: string;
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
  /** The same for messages published before the outage began: the link's steady state. */
  steadyLatencyMs: Summary | null;
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
  backend: string;
  outcome: 'passed' | 'failed';
  /** One line per failed cell or per cell with lost or duplicated messages. */
  failures: string[];
  /** Transports named by the scenario that the registry does not have. */
  skipped: { transport: string; reason: string }[];
  cells: CellResult[];
}
