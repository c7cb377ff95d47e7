// One transport × link profile run, a "cell". It opens an emulated link, starts a fresh gateway
// process behind it and a fleet of devices in front of it. Then it runs a publish workload while
// the profile's link events (blackholes, NAT rebinding) happen, and drains until every accepted
// message has reached its device and the gateway's inboxes are empty.
import type { LinkProfile } from '../emulator/index.js';
import { toError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TransportRegistry } from '../transport/registry.js';
import { buildCellResult } from './cell-result.js';
import { connectFleet } from './connect-phase.js';
import { DeliveryLedger } from './delivery-ledger.js';
import { ExperimentError, type ExperimentPhase } from './errors.js';
import type { Fleet, FleetSummary } from './fleet.js';
import { GatewayProcess } from './gateway-process.js';
import type { HttpTarget } from './http-target.js';
import type { EmulatedLink, LinkBackend, LinkTcpCounters } from './link-backend.js';
import { LinkEventSchedule } from './link-events.js';
import { scrapeGateway, type GatewaySnapshot } from './metrics-scrape.js';
import type { ProgressReporter } from './progress.js';
import type { CellResult, MemoryResult } from './results.js';
import type { LinkEvent, Scenario } from './scenario.js';
import { stallThresholdMs } from './stalls.js';
import { PublishWorkload } from './workload.js';

export interface CellContext {
  scenario: Scenario;
  transport: string;
  profile: LinkProfile;
  /** Position of this cell in the run; varies the seeds between cells. */
  index: number;
  registry: TransportRegistry;
  backend: LinkBackend;
  /** Token HMAC secret, also in `secretFile` for the gateway. */
  secret: string;
  secretFile: string;
  tlsFiles: { certFile: string; keyFile: string };
  /** The run's temporary directory. */
  workDir: string;
  /** Log level of the gateway and helper processes. */
  childLogLevel: string;
  onGatewayLog: (line: string) => void;
  /** Receives stderr lines of helper processes (device driver, HTTP bridge). */
  onHelperLog: (line: string) => void;
  progress: ProgressReporter;
  logger: Logger;
}

const DRAIN_POLL_MS = 200;
/** Time for closing devices to finish their close handshake, on top of two round trips of the profile. */
const CLOSE_GRACE_MS = 500;
const MS_PER_HOUR = 3_600_000;
/** Time the gateway's inboxes get to empty once every message was delivered, on top of two round trips. */
const INBOX_SETTLE_MS = 1_000;

/** Returns the cell's link events: the scenario's outage (on every profile) and the profile's own. */
export function cellEvents(scenario: Scenario, profile: LinkProfile): LinkEvent[] {
  const events: LinkEvent[] = [...(scenario.profileEvents[profile.name] ?? [])];
  if (scenario.outage !== null) events.push({ type: 'blackhole', ...scenario.outage });
  return events.sort((a, b) => a.atMs - b.atMs);
}

export async function runCell(ctx: CellContext): Promise<CellResult> {
  const { scenario, transport, profile } = ctx;
  const startedAt = Date.now();
  const ipProtocol = ctx.registry.create(transport).ipProtocol;
  const logger = ctx.logger.child({ transport, profile: profile.name });
  const ledger = new DeliveryLedger();
  const phasesMs: CellResult['phasesMs'] = {};
  const seed = (scenario.seed + ctx.index * 7_919) >>> 0;
  const events = new LinkEventSchedule(cellEvents(scenario, profile));
  const publishDurationMs = scenario.profileDurationMs[profile.name] ?? scenario.durationMs;
  const roundTripMs = profile.up.delayMs + profile.down.delayMs;

  let gateway: GatewayProcess | null = null;
  let link: EmulatedLink | null = null;
  let http: HttpTarget | null = null;
  let fleet: Fleet | null = null;
  let memory: MemoryResult | null = null;
  let finalSnapshot: GatewaySnapshot | null = null;
  let tcpBefore: LinkTcpCounters | null = null;
  let highPriority = 0;
  let publishStartedAt: number | null = null;
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
      link = await ctx.backend.open({ protocol: ipProtocol, profile, seed, workDir: ctx.workDir, logLevel: ctx.childLogLevel, onHelperLog: ctx.onHelperLog, logger });
    } catch (error) {
      throw new ExperimentError('link-start', `the ${ctx.backend.name} link backend failed to start: ${toError(error).message}`, { cause: error });
    }
    const openLink = link;

    enter('gateway-start');
    const started = await GatewayProcess.start({
      transports: [transport],
      host: openLink.gatewayHost,
      http: openLink.gatewayHttp,
      spawn: (command, args, options) => openLink.spawnGateway(command, args, options),
      heartbeat: scenario.heartbeat,
      secretFile: ctx.secretFile,
      tlsFiles: ctx.tlsFiles,
      logLevel: ctx.childLogLevel,
      logger,
      onLogLine: ctx.onGatewayLog,
    });
    gateway = started.gateway;
    const ready = started.ready;
    http = await openLink.connectHttp(ready.http);
    const listener = ready.listeners.find((candidate) => candidate.transport === transport);
    if (listener === undefined) throw new ExperimentError('gateway-start', `the gateway's ready line lists no ${transport} listener`);

    let dialAddress: { host: string; port: number };
    try {
      dialAddress = await openLink.attach({ host: listener.host, port: listener.port });
    } catch (error) {
      throw new ExperimentError('link-start', `the ${ctx.backend.name} link failed to attach to ${listener.host}:${listener.port}: ${toError(error).message}`, { cause: error });
    }
    logger.info({ link: openLink.describe() }, 'link ready');
    tcpBefore = await openLink.tcpCounters();

    enter('connect');
    fleet = await openLink.startFleet({
      spec: {
        transport,
        dialAddress,
        tls: { ca: ready.tls.cert, serverName: 'localhost' },
        ...(listener.clientSettings === undefined ? {} : { transportSettings: listener.clientSettings }),
        secret: ctx.secret,
        count: scenario.devices,
        client: scenario.client,
        seed,
        tokenTtlMs: MS_PER_HOUR * 24,
      },
      registry: ctx.registry,
      receipts: ledger,
      logger,
    });
    memory = await connectFleet(fleet, scenario, http);

    enter('publish');
    const workload = new PublishWorkload({
      http,
      devices: fleet.identities,
      ratePerSec: scenario.publishRatePerSec,
      highPriorityShare: scenario.highPriorityShare,
      payloadBytes: scenario.payloadBytes,
      durationMs: publishDurationMs,
      seed: seed ^ 0x5bd1e995,
      idPrefix: `${scenario.name}-${ctx.index}`,
      ledger,
      logger,
    });
    publishStartedAt = Date.now();
    events.start(openLink, logger);
    try {
      highPriority = (await workload.run()).highPriority;
    } finally {
      events.stop();
    }

    enter('drain');
    finalSnapshot = await drain(ledger, http, scenario.drainTimeoutMs, INBOX_SETTLE_MS + 2 * roundTripMs);
  } catch (error) {
    failure = { phase: error instanceof ExperimentError ? error.phase : phase, message: toError(error).message };
    // An ExperimentError's message is the whole story; anything else gets its stack for debugging.
    if (error instanceof ExperimentError) logger.error({ phase: failure.phase, reason: failure.message }, 'experiment phase failed');
    else logger.error({ err: toError(error), phase }, 'experiment phase failed');
  }

  enter('teardown');
  const closing = await collectAndClose({ link, gateway, http, fleet, profile, finalSnapshot, logger });
  if (gateway && closing.gatewayExitCode !== 0 && failure === null) {
    failure = { phase: 'teardown', message: `the gateway exited with status ${String(closing.gatewayExitCode)}; gateway stderr:\n${gateway.stderrTail()}` };
  }
  phasesMs.teardown = Date.now() - phaseStartedAt;
  ctx.progress.end();

  return buildCellResult({
    scenario,
    transport,
    ipProtocol,
    profile: profile.name,
    backend: ctx.backend.name,
    publishDurationMs,
    startedAt,
    phasesMs,
    failure,
    ledger,
    highPriority,
    publishStartedAt,
    events: events.records,
    stallThresholdMs: stallThresholdMs(profile),
    tcpBefore,
    tcpAfter: closing.tcpAfter,
    fleet: closing.fleetSummary,
    memory,
    gateway: closing.snapshot,
    link: closing.linkReport,
  });
}

interface TeardownInput {
  link: EmulatedLink | null;
  gateway: GatewayProcess | null;
  http: HttpTarget | null;
  fleet: Fleet | null;
  profile: LinkProfile;
  finalSnapshot: GatewaySnapshot | null;
  logger: Logger;
}

/**
 * Reads what the report needs while everything still runs, then closes the devices, the gateway
 * and the link in that order. It runs after a failure too, so it logs every error it catches
 * and never throws.
 */
async function collectAndClose(input: TeardownInput) {
  const { link, gateway, http, fleet, logger } = input;
  // A failed run still reports the gateway's counters, which tell a stuck inbox from a slow link.
  const snapshot = input.finalSnapshot ?? (http ? await scrapeGateway(http, 'teardown').catch(() => null) : null);
  const tcpAfter = await (link?.tcpCounters() ?? Promise.resolve(null)).catch((error: unknown) => {
    logger.warn({ err: toError(error) }, 'reading the kernel TCP counters failed');
    return null;
  });
  let fleetSummary: FleetSummary | null = null;
  if (fleet) {
    fleetSummary = await fleet.summary().catch((error: unknown) => {
      logger.warn({ err: toError(error) }, 'reading the device summary failed');
      return null;
    });
  }
  const linkReport = link?.stats() ?? null;
  if (fleet) {
    // Close frames still have to cross the link (and, over UDP, be acknowledged) before it goes.
    const graceMs = CLOSE_GRACE_MS + 2 * (input.profile.up.delayMs + input.profile.down.delayMs);
    await fleet.close(graceMs).catch((error: unknown) => logger.warn({ err: toError(error) }, 'closing the devices failed'));
  }
  const gatewayExitCode = await gateway?.stop().catch((error: unknown) => {
    logger.error({ err: toError(error) }, 'stopping the gateway failed');
    return null;
  });
  await link?.close().catch((error: unknown) => logger.error({ err: toError(error) }, 'closing the link failed'));
  http?.close();
  return { snapshot, tcpAfter, fleetSummary, linkReport, gatewayExitCode };
}

/**
 * Waits until every accepted message reached its device, then up to `settleMs` more for the
 * gateway's inboxes to hold nothing unacknowledged. Throws ExperimentError (phase drain) when
 * messages are still undelivered after `timeoutMs`. Acknowledgements still missing after the
 * settle time do not fail the cell: the report shows them as `gateway.inboxPendingAtEnd`.
 */
async function drain(ledger: DeliveryLedger, http: HttpTarget, timeoutMs: number, settleMs: number): Promise<GatewaySnapshot> {
  const deadline = Date.now() + timeoutMs;
  let settleDeadline: number | null = null;
  for (;;) {
    const snapshot = await scrapeGateway(http, 'drain');
    if (ledger.undelivered === 0) {
      settleDeadline ??= Math.min(deadline, Date.now() + settleMs);
      if (snapshot.inboxPending === 0 || Date.now() >= settleDeadline) return snapshot;
    } else if (Date.now() >= deadline) {
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
