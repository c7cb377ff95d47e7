import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentReport } from '../../src/experiment/results.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RUN_TIMEOUT_MS = 75_000;
/** Above vitest's 60 s default, so the run's own timeout fires first with the runner's stderr. */
const TEST_TIMEOUT_MS = 85_000;

interface Run {
  pid: number;
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the experiment command on experiments/smoke-packet.json, which requests the packet backend:
 * on a machine that cannot run it (not root, no /dev/net/tun, addon not built) the command exits
 * with the reason and this test fails instead of skipping.
 */
function runExperiment(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/experiment/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`experiment did not finish within ${RUN_TIMEOUT_MS} ms; stderr:\n${stderr}`));
    }, RUN_TIMEOUT_MS);
    child.once('exit', (status) => {
      clearTimeout(timer);
      resolve({ pid: child.pid!, status, stdout, stderr });
    });
  });
}

function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
}

let outDir: string;
beforeAll(async () => {
  outDir = await mkdtemp(path.join(tmpdir(), 'pushlab-packet-run-'));
});
afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
});

describe('experiment runner on the packet backend', () => {
  it('runs tcp and udp over real packet loss', async () => {
    const run = await runExperiment(['--scenario', 'experiments/smoke-packet.json', '--out', outDir]);
    expect(run.status, `stderr:\n${run.stderr}\nstdout:\n${run.stdout}`).toBe(0);
    expect(run.stdout).toContain('link backend: packet (requested packet)');

    const report = JSON.parse(await readFile(path.join(outDir, 'latest.json'), 'utf8')) as ExperimentReport;
    expect(report.backend).toBe('packet');
    expect(report.outcome).toBe('passed');
    expect(report.cells.map((cell) => `${cell.transport}/${cell.profile}`)).toEqual(['tcp/loss-5', 'udp/loss-5']);

    for (const cell of report.cells) {
      const label = cell.transport;
      expect(cell.status, label).toBe('passed');
      expect(cell.backend, label).toBe('packet');
      expect(cell.messages.published, label).toBeGreaterThan(0);
      expect(cell.messages.lost, label).toBe(0);
      expect(cell.messages.duplicated, label).toBe(0);
      expect(cell.messages.unexpected, label).toBe(0);
      expect(cell.link?.lossModel, label).toMatch(/^packet-level/);
      // The link dropped packets in both directions, so both ends had something to recover.
      expect(cell.linkLoss!.up + cell.linkLoss!.down, label).toBeGreaterThan(0);
      expect(cell.stalls?.thresholdMs, label).toBe(110);
    }

    const tcp = report.cells[0]!.retransmissions.kernelTcp!;
    expect(tcp.gateway.retransSegs + tcp.client.retransSegs).toBeGreaterThan(0);
    const udp = report.cells[1]!.retransmissions;
    expect(udp.deviceTransport?.source).toBe('udp connection counters');

    // Everything the run created is gone: its namespaces are named plab-<runner pid>-….
    expect(namespaces().filter((name) => name.startsWith(`plab-${run.pid}-`))).toEqual([]);
  }, TEST_TIMEOUT_MS);
});
