// One transport × link profile run, a "cell". It starts a fresh gateway process, an emulated link in
// front of its listener and a fleet of devices behind the link. Then it runs a publish workload
// with a mid-run outage, and drains until every accepted message has reached its device and the
// gateway's inboxes are empty.
import type { HmacTokenAuthority } from '../gateway/auth.js';
import type { LinkProfile } from '../emulator/index.js';
import { toError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TransportRegistry } from '../transport/registry.js';
import { DeliveryLedger } from './delivery-ledger.js';
import { DeviceFleet } from './device-fleet.js';
import { ExperimentError, type ExperimentPhase } from './errors.js';
import { GatewayProcess } from './gateway-process.js';
import type { EmulatedLink, LinkBackend } from './link-backend.js';
import { scrapeGateway, type GatewaySnapshot } from './metrics-scrape.js';
import type { ProgressReporter } from './progress.js';
import { buildCellResult } from './cell-result.js';
import type { CellResult, MemoryPoint, MemoryResult } from './results.js';
import type { Scenario } from './scenario.js';
import { PublishWorkload } from './workload.js';

export interface CellContext {
  scenario: Scenario;
  transport: string;
  profile: LinkProfile;
  /** Position of this cell in the run; varies the seeds between cells. */
  index: number;
  registry: TransportRegistry;
  backend: LinkBackend;
  authority: HmacTokenAuthority;
  secretFile: string;
  tlsFiles: { certFile: string; keyFile: string };
  gatewayLogLevel: string;
  onGatewayLog: (line: string) => void;
  progress: ProgressReporter;
  logger: Logger;
}

/** Time for the gateway's memory to settle after connects before a memory scrape. */
const MEMORY_SETTLE_MS = 1_000;
const DRAIN_POLL_MS = 200;
/** Time for closing devices to finish their close handshake, on top of two round trips of the profile. */
const CLOSE_GRACE_MS = 500;
const MS_PER_HOUR = 3_600_000;

export async function runCell(ctx: CellContext): Promise<CellResult> {
  const { scenario, transport, profile } = ctx;
  const startedAt = Date.now();
  const ipProtocol = ctx.registry.create(transport).ipProtocol;
  const logger = ctx.logger.child({ transport, profile: profile.name });
  const ledger = new DeliveryLedger();
  const phasesMs: CellResult['phasesMs'] = {};
  const seed = (scenario.seed + ctx.index * 7_919) >>> 0;

  let gateway: GatewayProcess | null = null;
  let link: EmulatedLink | null = null;
  let fleet: DeviceFleet | null = null;
  let memory: MemoryResult | null = null;
  let finalSnapshot: GatewaySnapshot | null = null;
  let httpBase: string | null = null;
  let highPriority = 0;
  let outageStartedAt = Infinity;
  let failure: CellResult['failure'] = null;
  let phase: ExperimentPhase = 'link-start';
  let phaseStartedAt = Date.now();
  const enter = (next: ExperimentPhase): void => {
    phasesMs[phase] = Date.now() - phaseStartedAt;
    phase = next;
    phaseStartedAt = Date.now();
    ctx.progress.setPhase(next);
  };

  ctx.progress.begin(`${transport} × ${profile.name}`, () => ({
    connected: fleet?.connectedCount ?? 0,
    devices: scenario.devices,
    delivered: ledger.delivered,
    published: ledger.publishedCount,
  }));
  ctx.progress.setPhase(phase);

  try {
    try {
      link = await ctx.backend.open({ protocol: ipProtocol, profile, seed, logger });
    } catch (error) {
      throw new ExperimentError('link-start', `the ${ctx.backend.name} link backend failed to start: ${toError(error).message}`, { cause: error });
    }

    enter('gateway-start');
    const started = await GatewayProcess.start({
      transports: [transport],
      host: link.gatewayHost,
      spawn: (command, args, options) => link!.spawnGateway(command, args, options),
      heartbeat: scenario.heartbeat,
      secretFile: ctx.secretFile,
      tlsFiles: ctx.tlsFiles,
      logLevel: ctx.gatewayLogLevel,
      logger,
      onLogLine: ctx.onGatewayLog,
    });
    gateway = started.gateway;
    const ready = started.ready;
    httpBase = `http://${ready.http.host}:${ready.http.port}`;
    const listener = ready.listeners.find((candidate) => candidate.transport === transport);
    if (listener === undefined) throw new ExperimentError('gateway-start', `the gateway's ready line lists no ${transport} listener`);

    let dialAddress: { host: string; port: number };
    try {
      dialAddress = await link.attach({ host: listener.host, port: listener.port });
    } catch (error) {
      throw new ExperimentError('link-start', `the ${ctx.backend.name} link failed to attach to ${listener.host}:${listener.port}: ${toError(error).message}`, { cause: error });
    }
    logger.info({ link: link.describe() }, 'link ready');

    enter('connect');
    fleet = new DeviceFleet({
      transport,
      registry: ctx.registry,
      dialAddress,
      tls: { ca: ready.tls.cert, serverName: 'localhost' },
      ...(listener.clientSettings === undefined ? {} : { transportSettings: listener.clientSettings }),
      authority: ctx.authority,
      count: scenario.devices,
      client: scenario.client,
      seed,
      tokenTtlMs: MS_PER_HOUR * 24,
      ledger,
      logger,
    });
    memory = await connectAndMeasure(fleet, scenario, httpBase);

    enter('publish');
    const workload = new PublishWorkload({
      httpBase,
      devices: fleet.identities,
      ratePerSec: scenario.publishRatePerSec,
      highPriorityShare: scenario.highPriorityShare,
      payloadBytes: scenario.payloadBytes,
      durationMs: scenario.durationMs,
      seed: seed ^ 0x5bd1e995,
      idPrefix: `${scenario.name}-${ctx.index}`,
      ledger,
      logger,
    });
    const outageTimer = scheduleOutage(scenario, link, logger, (at) => (outageStartedAt = at));
    try {
      highPriority = (await workload.run()).highPriority;
    } finally {
      if (outageTimer) clearTimeout(outageTimer);
    }

    enter('drain');
    finalSnapshot = await drain(ledger, httpBase, scenario.drainTimeoutMs);
  } catch (error) {
    failure = { phase: error instanceof ExperimentError ? error.phase : phase, message: toError(error).message };
    // An ExperimentError's message is the whole story; anything else gets its stack for debugging.
    if (error instanceof ExperimentError) logger.error({ phase: failure.phase, reason: failure.message }, 'experiment phase failed');
    else logger.error({ err: toError(error), phase }, 'experiment phase failed');
  }

  enter('teardown');
  if (finalSnapshot === null && httpBase !== null) {
    // A failed run still reports the gateway's counters, which tell a stuck inbox from a slow link.
    finalSnapshot = await scrapeGateway(httpBase, 'teardown').catch(() => null);
  }
  const linkReport = link?.stats() ?? null;
  const fleetSummary = fleet?.summary() ?? null;
  if (fleet) {
    fleet.close();
    // Close frames still have to cross the link (and, over UDP, be acknowledged) before it goes.
    await sleep(CLOSE_GRACE_MS + 2 * (profile.up.delayMs + profile.down.delayMs));
  }
  await link?.close();
  const exitCode = await gateway?.stop();
  if (gateway && exitCode !== 0 && failure === null) {
    failure = { phase: 'teardown', message: `the gateway exited with status ${String(exitCode)}; gateway stderr:\n${gateway.stderrTail()}` };
  }
  phasesMs.teardown = Date.now() - phaseStartedAt;
  ctx.progress.end();

  return buildCellResult({
    scenario,
    transport,
    ipProtocol,
    profile: profile.name,
    startedAt,
    phasesMs,
    failure,
    ledger,
    highPriority,
    outageStartedAt,
    fleet: fleetSummary,
    memory,
    gateway: finalSnapshot,
    link: linkReport,
  });
}

/**
 * Connects one warm-up device, takes the memory baseline, connects the rest and measures again.
 * The warm-up device keeps one-time costs (loading TLS and transport code, first buffers) out of
 * the per-session figure.
 */
async function connectAndMeasure(fleet: DeviceFleet, scenario: Scenario, httpBase: string): Promise<MemoryResult> {
  const deadline = Date.now() + scenario.connectTimeoutMs;
  await fleet.connect([0], 1, deadline);
  await sleep(MEMORY_SETTLE_MS);
  const baseline = memoryPoint(await scrapeGateway(httpBase, 'connect'));

  const rest = Array.from({ length: scenario.devices - 1 }, (_, i) => i + 1);
  await fleet.connect(rest, scenario.connectConcurrency, deadline);
  await sleep(MEMORY_SETTLE_MS);
  const connected = memoryPoint(await scrapeGateway(httpBase, 'connect'));

  const measuredSessions = connected.sessions - baseline.sessions;
  if (measuredSessions <= 0) {
    throw new ExperimentError('connect', `the gateway reports ${connected.sessions} sessions with every device connected and ${baseline.sessions} at the baseline`);
  }
  return {
    baseline,
    connected,
    measuredSessions,
    rssPerSessionBytes: (connected.rssBytes - baseline.rssBytes) / measuredSessions,
    heapUsedPerSessionBytes: (connected.heapUsedBytes - baseline.heapUsedBytes) / measuredSessions,
  };
}

function memoryPoint(snapshot: GatewaySnapshot): MemoryPoint {
  return { rssBytes: snapshot.rssBytes, heapUsedBytes: snapshot.heapUsedBytes, sessions: snapshot.sessionsActive };
}

function scheduleOutage(scenario: Scenario, link: EmulatedLink, logger: Logger, onStart: (atEpochMs: number) => void): NodeJS.Timeout | null {
  const outage = scenario.outage;
  if (outage === null) return null;
  return setTimeout(() => {
    logger.info({ durationMs: outage.durationMs, direction: outage.direction }, 'link outage starts');
    onStart(Date.now());
    link.blackholeFor(outage.durationMs, outage.direction);
  }, outage.atMs);
}

/**
 * Waits until every accepted message reached its device and the gateway's inboxes contain nothing
 * unacknowledged. Throws ExperimentError (phase drain) after `timeoutMs`.
 */
async function drain(ledger: DeliveryLedger, httpBase: string, timeoutMs: number): Promise<GatewaySnapshot> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const snapshot = await scrapeGateway(httpBase, 'drain');
    if (ledger.undelivered === 0 && snapshot.inboxPending === 0) return snapshot;
    if (Date.now() >= deadline) {
      throw new ExperimentError(
        'drain',
        `after ${timeoutMs} ms, ${ledger.undelivered} of ${ledger.publishedCount} accepted messages were not delivered and the gateway's inboxes held ${snapshot.inboxPending} unacknowledged messages`,
      );
    }
    await sleep(DRAIN_POLL_MS);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
