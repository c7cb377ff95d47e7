// Reads the gateway's GET /metrics (Prometheus text exposition format 0.0.4) and picks out the
// values the experiment reports: process memory, sessions, and the message counters from which
// the number of messages still waiting in the gateway's inboxes follows.
import { ExperimentError, type ExperimentPhase } from './errors.js';
import type { HttpTarget } from './http-target.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The gateway's state at one scrape. Counters are totals since the gateway started. */
export interface GatewaySnapshot {
  rssBytes: number;
  heapUsedBytes: number;
  sessionsActive: number;
  /** Messages stored for a device, sent at once or queued for a later session. */
  stored: number;
  acked: number;
  inboxDropped: number;
  /** Messages stored but neither acknowledged nor dropped: what the inboxes still hold. */
  inboxPending: number;
  pushesSent: number;
  /** Pushes the gateway sent again after a resume (session-level replays). */
  retransmissions: number;
  /**
   * Transport-level retransmissions the gateway's transports report, when the gateway exports
   * pushlab_transport_retransmissions_total; null when it does not.
   */
  transportRetransmissions: number | null;
  heartbeatTimeouts: number;
  resumes: Record<string, number>;
  handshakes: Record<string, number>;
}

const SCRAPE_TIMEOUT_MS = 5_000;
const TRANSPORT_RETRANSMISSIONS = 'pushlab_transport_retransmissions_total';

/** Parses exposition text into samples; comment lines and malformed lines are skipped. */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line.length === 0 || line.startsWith('#')) continue;
    const sample = parseSampleLine(line);
    if (sample) samples.push(sample);
  }
  return samples;
}

function parseSampleLine(line: string): Sample | null {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) return null;
  const name = nameMatch[0];
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    const end = parseLabels(rest, labels);
    if (end < 0) return null;
    rest = rest.slice(end);
  }
  // The value is the first field; an optional timestamp may follow it.
  const valueText = rest.trim().split(/\s+/)[0] ?? '';
  if (valueText === '') return null;
  // Number() reads "Infinity" but not the exposition format's "+Inf" and "-Inf".
  const value = Number(valueText.replace(/Inf$/, 'Infinity'));
  if (Number.isNaN(value)) return null;
  return { name, labels, value };
}

/** Reads `{a="x",b="y"}` into `labels`; returns the index after '}' or -1 when malformed. */
function parseLabels(text: string, labels: Record<string, string>): number {
  const pattern = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|\})/y;
  pattern.lastIndex = 1;
  if (text[1] === '}') return 2;
  for (;;) {
    const match = pattern.exec(text);
    if (!match) return -1;
    // Label values escape backslash, double quote and line feed (exposition format 0.0.4).
    labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, char: string) => (char === 'n' ? '\n' : char));
    if (match[3] === '}') return pattern.lastIndex;
  }
}

/** Sums the samples named `name` whose labels include every pair in `where`. */
export function sumOf(samples: readonly Sample[], name: string, where: Record<string, string> = {}): number {
  let total = 0;
  for (const sample of samples) {
    if (sample.name !== name) continue;
    if (Object.entries(where).every(([key, value]) => sample.labels[key] === value)) total += sample.value;
  }
  return total;
}

/** Sums `name` grouped by the value of `label`. */
export function sumBy(samples: readonly Sample[], name: string, label: string): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const sample of samples) {
    if (sample.name !== name) continue;
    const key = sample.labels[label] ?? '';
    totals[key] = (totals[key] ?? 0) + sample.value;
  }
  return totals;
}

/** Builds a snapshot from parsed samples of the gateway's registry. */
export function toSnapshot(samples: readonly Sample[]): GatewaySnapshot {
  const stored = sumOf(samples, 'pushlab_messages_published_total', { outcome: 'sent' }) + sumOf(samples, 'pushlab_messages_published_total', { outcome: 'queued' });
  const acked = sumOf(samples, 'pushlab_pushes_acked_total');
  const inboxDropped = sumOf(samples, 'pushlab_inbox_dropped_total');
  return {
    rssBytes: sumOf(samples, 'pushlab_gateway_process_resident_memory_bytes'),
    heapUsedBytes: sumOf(samples, 'pushlab_gateway_nodejs_heap_size_used_bytes'),
    sessionsActive: sumOf(samples, 'pushlab_sessions_active'),
    stored,
    acked,
    inboxDropped,
    inboxPending: stored - acked - inboxDropped,
    pushesSent: sumOf(samples, 'pushlab_pushes_sent_total'),
    retransmissions: sumOf(samples, 'pushlab_push_retransmissions_total'),
    transportRetransmissions: samples.some((sample) => sample.name === TRANSPORT_RETRANSMISSIONS) ? sumOf(samples, TRANSPORT_RETRANSMISSIONS) : null,
    heartbeatTimeouts: sumOf(samples, 'pushlab_heartbeat_timeouts_total'),
    resumes: sumBy(samples, 'pushlab_resumes_total', 'outcome'),
    handshakes: sumBy(samples, 'pushlab_handshakes_total', 'outcome'),
  };
}

/** Fetches and parses GET /metrics; throws ExperimentError in `phase` when that fails. */
export async function scrapeGateway(http: HttpTarget, phase: ExperimentPhase): Promise<GatewaySnapshot> {
  let text: string;
  try {
    const response = await http.request('GET', '/metrics', null, SCRAPE_TIMEOUT_MS);
    text = response.text;
    if (response.status !== 200) throw new Error(`status ${response.status}: ${text.slice(0, 200)}`);
  } catch (error) {
    throw new ExperimentError(phase, `scraping ${http.description}/metrics failed: ${(error as Error).message}`, { cause: error });
  }
  return toSnapshot(parseExposition(text));
}
