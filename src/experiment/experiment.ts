// Runs a whole scenario: every registered transport it names against every link profile, one cell
// at a time (cells run in sequence so they do not compete for the CPU), and gathers the report.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { builtinTransports } from '../../transports/index.js';
import type { LinkProfile } from '../emulator/index.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { createSelfSignedCertificate } from '../tls/self-signed.js';
import type { TransportRegistry } from '../transport/registry.js';
import { runCell } from './cell.js';
import { selectLinkBackend } from './packet-backend.js';
import type { ProgressReporter } from './progress.js';
import { cellFailures } from './report.js';
import type { CellResult, ExperimentReport } from './results.js';
import type { Scenario } from './scenario.js';

export interface ExperimentOptions {
  /** Default: the built-in transports. */
  registry?: TransportRegistry;
  logger: Logger;
  progress: ProgressReporter;
  /** Log level passed to the gateway processes and the device driver. */
  gatewayLogLevel: string;
  /** Receives each stderr line of the gateway processes. */
  onGatewayLog: (line: string) => void;
  /** Receives each stderr line of helper processes (device driver, HTTP bridge). */
  onHelperLog?: (line: string) => void;
}

export interface CellPlan {
  cells: { transport: string; profile: LinkProfile }[];
  skipped: { transport: string; reason: string }[];
}

/**
 * Pairs every transport with every profile. A transport the registry does not have is skipped
 * with a reason rather than failing the run, so one scenario can list transports that only some
 * checkouts provide. Throws ConfigError when no transport is left.
 */
export function planCells(scenario: Scenario, registry: TransportRegistry): CellPlan {
  const plan: CellPlan = { cells: [], skipped: [] };
  for (const transport of scenario.transports) {
    if (!registry.has(transport)) {
      plan.skipped.push({ transport, reason: `not registered in this build (registered transports: ${registry.names().join(', ')})` });
      continue;
    }
    for (const profile of scenario.profiles) plan.cells.push({ transport, profile });
  }
  if (plan.cells.length === 0) {
    throw new ConfigError(`${scenario.source}: none of the transports ${scenario.transports.join(', ')} is registered; registered transports: ${registry.names().join(', ')}`);
  }
  return plan;
}

export async function runExperiment(scenario: Scenario, options: ExperimentOptions): Promise<ExperimentReport> {
  const registry = options.registry ?? builtinTransports();
  const plan = planCells(scenario, registry);
  for (const skipped of plan.skipped) options.progress.note(`note: skipping transport ${skipped.transport}: ${skipped.reason}`);
  const { backend, fallbackReason, staleNamespacesRemoved } = await selectLinkBackend(scenario.backend);
  if (staleNamespacesRemoved.length > 0) options.progress.note(`note: removed namespaces left by killed runs: ${staleNamespacesRemoved.join(', ')}`);
  options.progress.note(
    fallbackReason === null
      ? `link backend: ${backend.name} (requested ${scenario.backend})`
      : `link backend: relay, because the packet backend is unavailable: ${fallbackReason}`,
  );

  const startedAt = Date.now();
  // The gateway reads the token secret from a file; the runner signs device tokens with the same one.
  // One certificate serves every gateway of the run, and devices trust it through the ready line.
  const secret = randomBytes(48).toString('base64');
  const secretDir = await mkdtemp(path.join(os.tmpdir(), 'pushlab-experiment-'));
  const secretFile = path.join(secretDir, 'auth-secret');
  const tlsFiles = { certFile: path.join(secretDir, 'gateway-cert.pem'), keyFile: path.join(secretDir, 'gateway-key.pem') };
  const cells: CellResult[] = [];
  try {
    await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
    const certificate = await createSelfSignedCertificate();
    await writeFile(tlsFiles.certFile, certificate.cert);
    await writeFile(tlsFiles.keyFile, certificate.key, { mode: 0o600 });
    for (const [index, planned] of plan.cells.entries()) {
      const cell = await runCell({
        scenario,
        transport: planned.transport,
        profile: planned.profile,
        index,
        registry,
        backend,
        secret,
        secretFile,
        tlsFiles,
        workDir: secretDir,
        childLogLevel: options.gatewayLogLevel,
        onGatewayLog: options.onGatewayLog,
        onHelperLog: options.onHelperLog ?? options.onGatewayLog,
        progress: options.progress,
        logger: options.logger,
      });
      cells.push(cell);
      const failures = cellFailures(cell);
      options.progress.note(
        `${cell.transport} × ${cell.profile}: ${failures.length === 0 ? 'ok' : 'FAILED'}, ${cell.messages.delivered}/${cell.messages.published} delivered, ` +
          `${cell.messages.lost} lost, ${cell.messages.duplicated} duplicated, ${cell.reconnects} reconnects, ${(cell.durationMs / 1000).toFixed(1)} s`,
      );
    }
  } finally {
    await rm(secretDir, { recursive: true, force: true });
  }

  const failures = cells.flatMap(cellFailures);
  const cpus = os.cpus();
  return {
    scenario,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: Date.now() - startedAt,
    environment: {
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      totalMemoryBytes: os.totalmem(),
    },
    backend: backend.name,
    backendRequested: scenario.backend,
    backendFallbackReason: fallbackReason,
    outcome: failures.length === 0 ? 'passed' : 'failed',
    failures,
    skipped: plan.skipped,
    cells,
  };
}
