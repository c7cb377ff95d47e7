import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProgressReporter } from '../../src/experiment/progress.js';
import { cellFailures, fileTimestamp, formatMs, formatSummary, formatTable, writeReport } from '../../src/experiment/report.js';
import type { CellResult, ExperimentReport } from '../../src/experiment/results.js';
import { parseScenario } from '../../src/experiment/scenario.js';
import { summarize } from '../../src/experiment/stats.js';

function cell(overrides: Partial<CellResult> = {}): CellResult {
  return {
    transport: 'tcp',
    ipProtocol: 'tcp',
    profile: 'wifi',
    backend: 'relay',
    publishDurationMs: 20_000,
    status: 'passed',
    failure: null,
    startedAt: '2025-03-01T12:00:00.000Z',
    durationMs: 25_000,
    phasesMs: { publish: 20_000 },
    devices: 50,
    connectMs: summarize([50, 60, 70, 80, 95]),
    reconnectMs: null,
    latencyMs: summarize([5.5, 12, 14, 300, 7_000]),
    steadyLatencyMs: summarize([5.5, 12, 14]),
    stalls: { thresholdMs: 110, count: 3, totalMs: 7_250, maxMs: 6_900, lateMessages: 4, devicesStalled: 2 },
    retransmissions: { sessionReplays: 12, gatewayTransport: null, deviceTransport: { connections: 50, retransmissions: null, lost: null, source: null }, kernelTcp: null },
    linkLoss: { up: 4, down: 9 },
    events: [],
    messages: { published: 500, delivered: 500, lost: 0, duplicated: 0, unexpected: 0, publishFailed: 0, highPriority: 100 },
    heartbeat: { bytes: 1_000, connectedDeviceHours: 0.05, bytesPerDeviceHour: 20_000.4, clientTimeouts: 50, gatewayTimeouts: 50 },
    reconnects: 50,
    failedAttempts: 0,
    gaps: 0,
    transportDuplicatesFiltered: 0,
    clientWarnings: {},
    memory: {
      baseline: { rssBytes: 100 * 1024 * 1024, heapUsedBytes: 20 * 1024 * 1024, sessions: 1 },
      connected: { rssBytes: 102 * 1024 * 1024, heapUsedBytes: 21 * 1024 * 1024, sessions: 50 },
      measuredSessions: 49,
      rssPerSessionBytes: 41_800,
      heapUsedPerSessionBytes: 21_400,
    },
    gateway: null,
    outage: null,
    link: { backend: 'relay', description: 'relay link emulator (tcp) on 127.0.0.1:1, profile wifi', lossModel: 'TCP loss is not packet-level', counters: {} },
    ...overrides,
  };
}

const scenario = parseScenario(
  {
    name: 'unit',
    transports: ['tcp', 'quic'],
    profiles: ['wifi'],
    devices: 50,
    durationMs: 20_000,
    publishRatePerSec: 25,
    outage: { atMs: 6_000, durationMs: 7_000 },
    heartbeat: { intervalMs: 2_000, timeoutMs: 3_000 },
  },
  'unit.json',
  '.',
);

function report(cells: CellResult[], overrides: Partial<ExperimentReport> = {}): ExperimentReport {
  const failures = cells.flatMap(cellFailures);
  return {
    scenario,
    startedAt: '2025-03-01T12:30:05.123Z',
    finishedAt: '2025-03-01T12:32:05.123Z',
    durationMs: 120_000,
    environment: { node: 'v20', platform: 'linux', arch: 'x64', cpus: 2, cpuModel: 'test', totalMemoryBytes: 1 },
    backend: 'relay',
    backendRequested: 'auto',
    backendFallbackReason: 'missing CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root)',
    outcome: failures.length === 0 ? 'passed' : 'failed',
    failures,
    skipped: [],
    cells,
    ...overrides,
  };
}

describe('report table', () => {
  it('formats milliseconds', () => {
    expect(formatMs(5.55)).toBe('5.5');
    expect(formatMs(0)).toBe('0.0');
    expect(formatMs(10)).toBe('10');
    expect(formatMs(7_000.4)).toBe('7000');
  });

  it('lays out one aligned row per cell', () => {
    const table = formatTable([cell(), cell({ transport: 'quic', profile: '3g' })]);
    const lines = table.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^transport {2}profile {2}status {2}connect p50\/p95 ms {2}latency p50\/p95\/p99 ms {2}sent {2}lost {2}dup {2}stalls n\/s {2}replays {2}rtx gw\/dev {2}link loss up\/down {2}reconnects {2}hb B\/device-h {2}RSS/);
    expect(lines[1]).toMatch(/^-{9} {2}-{7} {2}-{6} {2}-+/);
    // Numbers are right-aligned under their headers, names left-aligned.
    expect(lines[2]).toMatch(/^tcp {8}wifi {5}ok {6}/);
    expect(lines[3]).toMatch(/^quic {7}3g {7}ok {6}/);
    expect(lines[2]).toContain(' 70/95 ');
    expect(lines[2]).toContain(' 14/7000/7000 ');
    expect(lines[2]).toContain(' 20000 ');
    expect(lines[2]).toContain(' 3/7.3 ');
    expect(lines[2]).toContain(' -/- ');
    expect(lines[2]).toContain(' 4/9 ');
    expect(lines[2]).toContain(' 40.8 ');
    expect(lines[2]).toContain(' 20.9');
    for (const line of lines.slice(1)) expect(line.length).toBeLessThanOrEqual(lines[0]!.length);
  });

  it('omits memory columns on request', () => {
    const header = formatTable([cell()], { memory: false }).split('\n')[0]!;
    expect(header.endsWith('hb B/device-h')).toBe(true);
  });

  it('shows kernel retransmissions for TCP on the packet backend', () => {
    const kernel = { retransSegs: 17, outSegs: 400, lossProbes: 9, timeouts: 1, fastRetrans: 4, synRetrans: 0 };
    const tcp = cell({ backend: 'packet', retransmissions: { ...cell().retransmissions, kernelTcp: { gateway: kernel, client: { ...kernel, retransSegs: 5 } } } });
    expect(formatTable([tcp]).split('\n')[2]).toContain(' 17/5 ');
    const udp = cell({ transport: 'udp', ipProtocol: 'udp', retransmissions: { ...tcp.retransmissions, deviceTransport: { connections: 50, retransmissions: 8, lost: null, source: 'udp connection counters' } } });
    expect(formatTable([udp]).split('\n')[2]).toContain(' -/8 ');
  });

  it('shows dashes for missing measurements and the failed phase', () => {
    const failed = cell({
      status: 'failed',
      failure: { phase: 'connect', message: '3 of 50 devices connected' },
      connectMs: null,
      latencyMs: null,
      memory: null,
      heartbeat: { bytes: 0, connectedDeviceHours: 0, bytesPerDeviceHour: null, clientTimeouts: 0, gatewayTimeouts: 0 },
    });
    const row = formatTable([failed]).split('\n')[2]!;
    expect(row).toContain('FAILED (connect)');
    expect(row.match(/ - /g)?.length).toBeGreaterThanOrEqual(3);
    expect(row.trimEnd().endsWith('-')).toBe(true);
  });
});

describe('report failures', () => {
  it('passes a clean cell', () => {
    expect(cellFailures(cell())).toEqual([]);
  });

  it('names every reason a cell fails', () => {
    const failures = cellFailures(
      cell({
        failure: { phase: 'drain', message: 'timed out' },
        messages: { published: 10, delivered: 8, lost: 2, duplicated: 1, unexpected: 1, publishFailed: 3, highPriority: 0 },
      }),
    );
    expect(failures).toEqual([
      'tcp × wifi: phase drain failed: timed out',
      'tcp × wifi: 2 of 10 accepted messages were never delivered',
      'tcp × wifi: 1 messages reached the application more than once',
      'tcp × wifi: 1 messages arrived at a device they were not published to',
      'tcp × wifi: the gateway rejected 3 publishes',
    ]);
  });

  it('notes skipped events and unacknowledged messages', () => {
    const skipped = cell({
      events: [{ event: { type: 'rebind', atMs: 1_000 }, appliedAtMs: 1_002, skipped: 'rebind() is supported only for protocol "udp"' }],
      gateway: { pushesSent: 510, retransmissions: 10, resumes: {}, handshakes: {}, inboxPendingAtEnd: 4 },
    });
    const text = formatSummary(report([skipped]));
    expect(text).toContain('note: tcp × wifi: rebind at 1 s not applied: rebind() is supported only for protocol "udp"');
    expect(text).toContain('note: tcp × wifi: every message arrived, but the gateway still held 4 of them unacknowledged at the end');
  });

  it('summarises the run with notes', () => {
    const text = formatSummary(report([cell({ messages: { ...cell().messages, lost: 1, delivered: 499 } })], { skipped: [{ transport: 'quic', reason: 'not registered' }] }));
    expect(text).toContain('pushlab experiment "unit": 50 devices, 25 msg/s for 20 s, 7 s outage (both) at 6 s, heartbeat 2000+3000 ms');
    expect(text).toContain('link backend: relay (requested auto; the packet backend is unavailable: missing CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root)): TCP loss is not packet-level');
    expect(text).toMatch(/^profile wifi: /m);
    expect(text).toContain('skipped transport quic: not registered');
    expect(text).toContain('FAILED: tcp × wifi: 1 of 500 accepted messages were never delivered');
    expect(text.trimEnd().endsWith('finished in 120.0 s: FAILED')).toBe(true);
  });
});

describe('report files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pushlab-report-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('makes file-safe timestamps', () => {
    expect(fileTimestamp(new Date('2025-03-01T12:30:05.123Z'))).toBe('2025-03-01T12-30-05Z');
  });

  it('writes the timestamped file and latest.json', async () => {
    const written = await writeReport(report([cell()]), path.join(dir, 'nested/results'));
    expect(written.file).toBe(path.join(dir, 'nested/results/unit-2025-03-01T12-30-05Z.json'));
    expect(written.latest).toBe(path.join(dir, 'nested/results/latest.json'));
    const file = JSON.parse(await readFile(written.file, 'utf8')) as ExperimentReport;
    const latest = JSON.parse(await readFile(written.latest, 'utf8')) as ExperimentReport;
    expect(latest).toEqual(file);
    expect(file.cells[0]!.messages.published).toBe(500);
    expect(file.scenario.name).toBe('unit');
  });
});

describe('progress reporter', () => {
  it('prints phase lines and notes when not a terminal', () => {
    let output = '';
    const progress = new ProgressReporter({ write: (text: string) => (output += text), isTTY: false });
    progress.begin('tcp × wifi', () => ({ connected: 3, devices: 5, delivered: 7, published: 9 }));
    progress.setPhase('publish');
    progress.note('note: hello');
    progress.end();
    const lines = output.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[tcp × wifi\] publish 0\.\ds \| connected 3\/5 \| delivered 7\/9$/);
    expect(lines[1]).toBe('note: hello');
  });

  it('rewrites one line on a terminal', () => {
    let output = '';
    const progress = new ProgressReporter({ write: (text: string) => (output += text), isTTY: true });
    progress.begin('udp × 3g', () => ({ connected: 0, devices: 2, delivered: 0, published: 0 }));
    progress.setPhase('connect');
    progress.note('a note');
    progress.end();
    expect(output.startsWith('\r\x1b[2K[udp × 3g] connect')).toBe(true);
    expect(output).toContain('\r\x1b[2Ka note\n');
    expect(output.endsWith('\n')).toBe(true);
  });
});
