// Output of a run: a plain-text table with one row per transport × profile, the notes a reader
// needs to interpret it (link backend, failures, skipped transports), and the JSON report files.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CellResult, ExperimentReport } from './results.js';
import type { LinkEvent } from './scenario.js';
import type { Summary } from './stats.js';

interface Column {
  header: string;
  /** Right-aligned (numbers) or left-aligned (names). */
  align: 'left' | 'right';
  value: (cell: CellResult) => string;
}

const COLUMNS: readonly Column[] = [
  { header: 'transport', align: 'left', value: (c) => c.transport },
  { header: 'profile', align: 'left', value: (c) => c.profile },
  { header: 'status', align: 'left', value: (c) => (c.status === 'passed' ? 'ok' : `FAILED (${c.failure?.phase ?? '?'})`) },
  { header: 'connect p50/p95 ms', align: 'right', value: (c) => quantiles(c.connectMs, ['p50', 'p95']) },
  { header: 'latency p50/p95/p99 ms', align: 'right', value: (c) => quantiles(c.latencyMs, ['p50', 'p95', 'p99']) },
  { header: 'sent', align: 'right', value: (c) => String(c.messages.published) },
  { header: 'lost', align: 'right', value: (c) => String(c.messages.lost) },
  { header: 'dup', align: 'right', value: (c) => String(c.messages.duplicated) },
  { header: 'stalls n/s', align: 'right', value: (c) => (c.stalls === null ? '-' : `${c.stalls.count}/${(c.stalls.totalMs / 1000).toFixed(1)}`) },
  { header: 'replays', align: 'right', value: (c) => count(c.retransmissions.sessionReplays) },
  { header: 'rtx gw/dev', align: 'right', value: transportRetransmissions },
  { header: 'link loss up/down', align: 'right', value: (c) => (c.linkLoss === null ? '-' : `${c.linkLoss.up}/${c.linkLoss.down}`) },
  { header: 'reconnects', align: 'right', value: (c) => String(c.reconnects) },
  { header: 'hb B/device-h', align: 'right', value: (c) => (c.heartbeat.bytesPerDeviceHour === null ? '-' : String(Math.round(c.heartbeat.bytesPerDeviceHour))) },
];

/** Shown only when the scenario measures memory. */
const MEMORY_COLUMNS: readonly Column[] = [
  { header: 'RSS/session KiB', align: 'right', value: (c) => kib(c.memory?.rssPerSessionBytes) },
  { header: 'heap/session KiB', align: 'right', value: (c) => kib(c.memory?.heapUsedPerSessionBytes) },
];

function count(value: number | null | undefined): string {
  return value === null || value === undefined ? '-' : String(value);
}

/**
 * Transport-level retransmissions at the gateway and at the devices: kernel RetransSegs of each
 * namespace for TCP-based transports on the packet backend, otherwise the transports' own counters.
 */
function transportRetransmissions(cell: CellResult): string {
  const rtx = cell.retransmissions;
  if (cell.ipProtocol === 'tcp' && rtx.kernelTcp !== null) return `${rtx.kernelTcp.gateway.retransSegs}/${rtx.kernelTcp.client.retransSegs}`;
  return `${count(rtx.gatewayTransport)}/${count(rtx.deviceTransport?.retransmissions)}`;
}

/** Formats milliseconds: one decimal below 10 ms, whole numbers above. */
export function formatMs(ms: number): string {
  return ms < 10 ? ms.toFixed(1) : String(Math.round(ms));
}

function quantiles(summary: Summary | null, keys: readonly ('p50' | 'p95' | 'p99')[]): string {
  if (summary === null) return '-';
  return keys.map((key) => formatMs(summary[key])).join('/');
}

function kib(bytes: number | undefined): string {
  return bytes === undefined ? '-' : (bytes / 1024).toFixed(1);
}

/**
 * Lays out the results table: a header, a rule and one row per cell, columns padded to fit. The
 * memory columns appear when `memory` is true (the default).
 */
export function formatTable(cells: readonly CellResult[], options: { memory?: boolean } = {}): string {
  const columns = options.memory === false ? COLUMNS : [...COLUMNS, ...MEMORY_COLUMNS];
  const rows = cells.map((cell) => columns.map((column) => column.value(cell)));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...rows.map((row) => row[i]!.length)));
  const line = (values: readonly string[]): string =>
    values
      .map((value, i) => (columns[i]!.align === 'left' ? value.padEnd(widths[i]!) : value.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((column) => column.header)), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

/** Formats the human-readable summary: title, backend, table and notes. */
export function formatSummary(report: ExperimentReport): string {
  const scenario = report.scenario;
  const lines = [
    `pushlab experiment "${scenario.name}": ${scenario.devices} devices, ${scenario.publishRatePerSec} msg/s for ${scenario.durationMs / 1000} s` +
      (scenario.outage ? `, ${scenario.outage.durationMs / 1000} s outage (${scenario.outage.direction}) at ${scenario.outage.atMs / 1000} s` : '') +
      `, heartbeat ${scenario.heartbeat.intervalMs}+${scenario.heartbeat.timeoutMs} ms`,
    backendLine(report),
    '',
    report.cells.length > 0 ? formatTable(report.cells, { memory: scenario.measureMemory }) : '(no transport × profile pair ran)',
    '',
  ];
  for (const profile of scenario.profiles) {
    const events = (scenario.profileEvents[profile.name] ?? []).map(describeEvent);
    const durationMs = scenario.profileDurationMs[profile.name] ?? scenario.durationMs;
    const duration = durationMs === scenario.durationMs ? '' : `; publishes for ${durationMs / 1000} s`;
    lines.push(`profile ${profile.name}: ${profile.description}${duration}${events.length > 0 ? `; events: ${events.join(', ')}` : ''}`);
  }
  for (const cell of report.cells) {
    for (const event of cell.events) if (event.skipped !== null) lines.push(`note: ${cell.transport} × ${cell.profile}: ${event.event.type} at ${event.event.atMs / 1000} s not applied: ${event.skipped}`);
  }
  for (const cell of report.cells) {
    const pending = cell.gateway?.inboxPendingAtEnd ?? 0;
    if (pending > 0) {
      lines.push(`note: ${cell.transport} × ${cell.profile}: every message arrived, but the gateway still held ${pending} of them unacknowledged at the end (inboxPendingAtEnd)`);
    }
  }
  for (const skipped of report.skipped) lines.push(`skipped transport ${skipped.transport}: ${skipped.reason}`);
  for (const failure of report.failures) lines.push(`FAILED: ${failure}`);
  lines.push(`finished in ${(report.durationMs / 1000).toFixed(1)} s: ${report.outcome === 'passed' ? 'passed' : 'FAILED'}`);
  return `${lines.join('\n')}\n`;
}

function backendLine(report: ExperimentReport): string {
  const requested = `requested ${report.backendRequested}`;
  if (report.backend === 'packet') {
    return `link backend: packet (${requested}): devices and gateway in their own network namespaces; loss drops IP packets, so kernel TCP retransmits (rtx gw/dev of TCP rows: kernel RetransSegs)`;
  }
  const fallback = report.backendFallbackReason === null ? '' : `; the packet backend is unavailable: ${report.backendFallbackReason}`;
  return `link backend: relay (${requested}${fallback}): TCP loss is not packet-level (a lost chunk arrives one estimated RTO late and the kernel never retransmits); UDP loss drops datagrams`;
}

function describeEvent(event: LinkEvent): string {
  if (event.type === 'rebind') return `rebind at ${event.atMs / 1000} s`;
  return `blackhole ${event.direction} ${event.durationMs / 1000} s at ${event.atMs / 1000} s`;
}

/** Lists why a cell fails the run: a failed phase, lost, duplicated or unexpected messages. */
export function cellFailures(cell: CellResult): string[] {
  const label = `${cell.transport} × ${cell.profile}`;
  const failures: string[] = [];
  if (cell.failure) failures.push(`${label}: phase ${cell.failure.phase} failed: ${cell.failure.message}`);
  const m = cell.messages;
  if (m.lost > 0) failures.push(`${label}: ${m.lost} of ${m.published} accepted messages were never delivered`);
  if (m.duplicated > 0) failures.push(`${label}: ${m.duplicated} messages reached the application more than once`);
  if (m.unexpected > 0) failures.push(`${label}: ${m.unexpected} messages arrived at a device they were not published to`);
  if (m.publishFailed > 0) failures.push(`${label}: the gateway rejected ${m.publishFailed} publishes`);
  return failures;
}

/** File-name-safe UTC time, e.g. 2025-03-01T12-30-05Z. */
export function fileTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');
}

/** Writes results/<scenario>-<time>.json and results/latest.json; returns both paths. */
export async function writeReport(report: ExperimentReport, outDir: string): Promise<{ file: string; latest: string }> {
  await mkdir(outDir, { recursive: true });
  const text = `${JSON.stringify(report, null, 2)}\n`;
  const file = path.join(outDir, `${report.scenario.name}-${fileTimestamp(new Date(report.startedAt))}.json`);
  const latest = path.join(outDir, 'latest.json');
  await writeFile(file, text);
  await writeFile(latest, text);
  return { file, latest };
}
