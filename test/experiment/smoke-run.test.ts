import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentReport } from '../../src/experiment/results.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RUN_TIMEOUT_MS = 55_000;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the experiment command as `make run-experiment` does, killing it after RUN_TIMEOUT_MS. */
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
      resolve({ status, stdout, stderr });
    });
  });
}

let outDir: string;
beforeAll(async () => {
  outDir = await mkdtemp(path.join(tmpdir(), 'pushlab-experiment-out-'));
});
afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
});

describe('experiment runner', () => {
  it('runs the smoke scenario without loss or duplicates', async () => {
    const run = await runExperiment(['--scenario', 'experiments/smoke.json', '--out', outDir]);
    expect(run.status, `stderr:\n${run.stderr}\nstdout:\n${run.stdout}`).toBe(0);
    expect(run.stdout).toMatch(/^transport +profile +status +connect p50\/p95 ms/m);
    expect(run.stdout).toContain('passed');

    const files = (await readdir(outDir)).sort();
    expect(files).toHaveLength(2);
    expect(files[0]).toBe('latest.json');
    expect(files[1]).toMatch(/^smoke-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.json$/);
    const report = JSON.parse(await readFile(path.join(outDir, 'latest.json'), 'utf8')) as ExperimentReport;
    expect(report.outcome).toBe('passed');
    expect(report.failures).toEqual([]);
    expect(report.backend).toBe('relay');
    expect(report.cells.map((cell) => `${cell.transport}/${cell.profile}`)).toEqual(['tcp/wifi', 'tcp/3g']);

    const expectedPublishes = Math.ceil((report.scenario.durationMs / 1000) * report.scenario.publishRatePerSec);
    for (const cell of report.cells) {
      const label = `${cell.transport}/${cell.profile}`;
      expect(cell.status, label).toBe('passed');
      expect(cell.messages.published, label).toBe(expectedPublishes);
      expect(cell.messages.lost, label).toBe(0);
      expect(cell.messages.duplicated, label).toBe(0);
      expect(cell.messages.unexpected, label).toBe(0);
      expect(cell.messages.delivered, label).toBe(expectedPublishes);
      // The outage outlasts the heartbeat deadline, so every device lost its session and came back.
      expect(cell.reconnects, label).toBeGreaterThanOrEqual(report.scenario.devices);
      expect(cell.heartbeat.clientTimeouts, label).toBeGreaterThanOrEqual(report.scenario.devices);
      expect(cell.gateway?.inboxPendingAtEnd, label).toBe(0);
      expect(cell.gateway?.resumes.resumed, label).toBeGreaterThanOrEqual(report.scenario.devices);
      expect(cell.connectMs?.count, label).toBe(report.scenario.devices);
      expect(cell.latencyMs?.count, label).toBe(expectedPublishes);
      expect(cell.memory?.measuredSessions, label).toBe(report.scenario.devices - 1);
      expect(cell.link?.backend, label).toBe('relay');
      expect(cell.link?.lossModel, label).toMatch(/not packet-level/);
    }
  });

  it('rejects an invalid scenario with status 2', async () => {
    const run = await runExperiment(['--scenario', path.join(outDir, 'missing.json'), '--out', outDir]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/experiment: cannot read scenario file .*missing\.json/);
  });
});
