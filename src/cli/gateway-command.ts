// `pushlab gateway`: starts the gateway and its HTTP API, prints one ready line on stdout, and
// shuts both down when `stop` resolves (the entry point wires it to SIGINT and SIGTERM).
//
// The ready line is a stable interface for programs that spawn the gateway (the experiment runner):
//   {"event":"ready","pid":…,"listeners":[{"transport","host","port","clientSettings"?}…],
//    "http":{"host","port"},"tls":{"selfSigned":bool,"sha256":hex,"cert":PEM}}
// Byte arrays inside clientSettings appear as base64 strings.
// Logs never go to stdout, so that line is the only stdout output; docs/CONFIG.md documents it.
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { pino } from 'pino';
import client from 'prom-client';
import { builtinTransports } from '../../transports/index.js';
import { browserRoutes } from '../browser/server/routes.js';
import { systemClock } from '../clock.js';
import { GATEWAY_FLAGS } from '../config/flags.js';
import { toGatewayOptions } from '../config/gateway-options.js';
import { loadAuthSecret, loadGatewayConfig, loadTlsFiles } from '../config/load.js';
import { ENV_AUTH_SECRET, type GatewayConfig } from '../config/schema.js';
import { ConfigError, toError } from '../errors.js';
import { HmacTokenAuthority } from '../gateway/auth.js';
import { Gateway } from '../gateway/gateway.js';
import { startHttpApi, type HttpApi, type HttpApiOptions } from '../gateway/http-api.js';
import type { Logger } from '../logger.js';
import { collectProcessMetrics, GatewayMetrics } from '../metrics/gateway-metrics.js';
import { createSelfSignedCertificate } from '../tls/self-signed.js';
import { ClusterMetricsRegistry, ClusterPrimary } from '../cluster/primary.js';
import { CLUSTER_AUTH_SECRET_ENV, CLUSTER_TLS_CERT_ENV, CLUSTER_TLS_KEY_ENV, isClusterWorker, startClusterWorker } from '../cluster/worker-main.js';
import type { TlsServerMaterial } from '../transport/types.js';
import { EXIT_FAILURE, EXIT_OK, formatHelp, parseFlags, type CliIo, type FlagSpec } from './args.js';

/** How long shutdown may take before the process gives up on a clean stop. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * Flags handled here rather than in the config table, because they change what the HTTP API
 * serves, not how the gateway runs.
 */
const COMMAND_FLAGS: readonly FlagSpec[] = [
  ...GATEWAY_FLAGS,
  {
    name: 'demo',
    type: 'boolean',
    help: 'Serve POST /demo/token, which signs 10-minute tokens for users named demo-* so the demo page at /demo can connect. Anyone who reaches the HTTP API can then connect as a demo user: never enable it in production. Default: off.',
  },
];

export const GATEWAY_HELP = formatHelp(
  'pushlab gateway [--config FILE] [--listen TRANSPORT=HOST:PORT]... [--http HOST:PORT] [options]',
  [
    'Starts the push gateway on the given transport listeners and the HTTP API (POST /v1/publish,',
    'GET /healthz, GET /metrics, and for browsers GET /demo and GET /webtransport/cert-hashes).',
    'When ready it prints one JSON line on stdout:',
    '  {"event":"ready","pid":N,"listeners":[{"transport","host","port"}],"http":{"host","port"},"tls":{...}}',
    'SIGINT or SIGTERM closes the HTTP API and the gateway, then exits with status 0.',
    'Precedence, lowest first: defaults, environment, config file, flags.',
  ].join('\n'),
  COMMAND_FLAGS,
  `Environment: ${ENV_AUTH_SECRET} (auth secret when no file sets one), PUSHLAB_LOG_LEVEL (log level when no file or flag sets one).`,
);

export interface ReadyLine {
  event: 'ready';
  pid: number;
  listeners: { transport: string; host: string; port: number; clientSettings?: Record<string, unknown> }[];
  http: { host: string; port: number };
  tls: { selfSigned: boolean; sha256: string; cert: string };
}

export async function runGatewayCommand(argv: string[], io: CliIo, stop: Promise<string>): Promise<number> {
  const flags = parseFlags('gateway', argv, COMMAND_FLAGS);
  if (flags.help === true) {
    io.stdout.write(GATEWAY_HELP);
    return EXIT_OK;
  }
  const configFile = typeof flags.config === 'string' ? flags.config : undefined;
  const config = await loadGatewayConfig({ configFile, flags, env: io.env });

  // Logs go to stderr so stdout carries only the ready line (pino writes to stdout by default).
  const logger: Logger = pino({ level: config.logLevel, name: 'pushlab' }, pino.destination({ fd: 2, sync: true }));
  if (isClusterWorker()) return runWorker(config, io, stop, logger);
  const { authenticator, secret } = await createAuthenticator(config, io.env, logger);
  const tls = await resolveTls(config, logger);
  if (config.workers > 1) return runPrimary(config, io, stop, logger, { tls, secret, authenticator, demoTokens: flags.demo === true });

  const metricsRegistry = new client.Registry();
  collectProcessMetrics(metricsRegistry);
  const metrics = new GatewayMetrics(metricsRegistry);
  const options = toGatewayOptions(config, { registry: builtinTransports(), logger, tls: tls.material, authenticator, metrics });

  let gateway: Gateway;
  try {
    gateway = await Gateway.start(options);
  } catch (error) {
    logger.fatal({ err: toError(error) }, 'gateway failed to start');
    io.stderr.write(`pushlab: gateway failed to start: ${toError(error).message}\n`);
    return EXIT_FAILURE;
  }
  const api = await startApiOrReport(config, io, logger, {
    target: gateway,
    health: () => gateway.health(),
    metrics: gateway.metrics,
    routes: browserRoutes({
      listeners: () => gateway.listeners,
      logger,
      demoTokens: flags.demo === true ? { issuer: authenticator } : undefined,
    }),
  });
  if (!api) {
    await gateway.close();
    return EXIT_FAILURE;
  }

  const ready = writeReadyLine(
    io,
    gateway.listeners.map((listener) => {
      const entry: ReadyLine['listeners'][number] = { transport: listener.transport, host: listener.address.host, port: listener.address.port };
      if (listener.clientSettings !== undefined) entry.clientSettings = listener.clientSettings;
      return entry;
    }),
    api,
    tls,
  );
  logger.info({ listeners: ready.listeners, http: ready.http }, 'gateway ready');
  if (flags.demo === true) warnDemoMode(api, logger);

  const signal = await stop;
  logger.info({ signal }, 'shutting down');
  return shutDown(api, gateway, logger);
}

function warnDemoMode(api: HttpApi, logger: Logger): void {
  logger.warn({ url: `http://${api.address.host}:${api.address.port}/demo` }, 'demo mode: POST /demo/token signs tokens for demo-* users for anyone who reaches the HTTP API');
}

/**
 * Starts the HTTP API on the configured address; on failure logs it, prints one plain line on
 * stderr and returns undefined, so the caller only has to stop what it started.
 */
async function startApiOrReport(
  config: GatewayConfig,
  io: CliIo,
  logger: Logger,
  parts: Pick<HttpApiOptions, 'target' | 'health' | 'metrics' | 'routes'>,
): Promise<HttpApi | undefined> {
  try {
    return await startHttpApi({ ...parts, host: config.http.host, port: config.http.port, logger, maxBodyBytes: config.http.maxBodyBytes });
  } catch (error) {
    logger.fatal({ err: toError(error), host: config.http.host, port: config.http.port }, 'HTTP API failed to start');
    io.stderr.write(`pushlab: HTTP API failed to start on ${config.http.host}:${config.http.port}: ${toError(error).message}\n`);
    return undefined;
  }
}

/** Writes the one JSON ready line on stdout and returns it. */
function writeReadyLine(io: CliIo, listeners: ReadyLine['listeners'], api: HttpApi, tls: ResolvedTls): ReadyLine {
  const ready: ReadyLine = {
    event: 'ready',
    pid: process.pid,
    listeners,
    http: { host: api.address.host, port: api.address.port },
    tls: { selfSigned: tls.selfSigned, sha256: tls.sha256, cert: tls.material.cert },
  };
  io.stdout.write(`${JSON.stringify(ready, bytesAsBase64)}\n`);
  return ready;
}

/**
 * JSON.stringify replacer: a Uint8Array (a pinned certificate hash, say) becomes a base64 string.
 * It reads the original value from the holder because Buffer.toJSON runs before the replacer is called.
 */
function bytesAsBase64(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key];
  return original instanceof Uint8Array ? Buffer.from(original).toString('base64') : value;
}

async function shutDown(api: HttpApi, gateway: { close(): Promise<void> }, logger: Logger): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), SHUTDOWN_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([Promise.all([api.close(), gateway.close()]).then(() => 'closed' as const), timeout]);
    if (outcome === 'timeout') {
      logger.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out');
      return EXIT_FAILURE;
    }
    logger.info('shutdown complete');
    return EXIT_OK;
  } catch (error) {
    logger.error({ err: toError(error) }, 'shutdown failed');
    return EXIT_FAILURE;
  } finally {
    clearTimeout(timer);
  }
}

async function createAuthenticator(config: GatewayConfig, env: NodeJS.ProcessEnv, logger: Logger): Promise<{ authenticator: HmacTokenAuthority; secret: Uint8Array }> {
  const loaded = await loadAuthSecret(config.auth, env);
  let secret: Uint8Array;
  if (loaded !== undefined) {
    logger.info({ source: loaded.source }, 'auth secret loaded');
    secret = loaded.secret;
  } else {
    // A random secret keeps the gateway closed rather than open: no token from elsewhere verifies.
    logger.warn(`no auth secret configured (auth.secretFile, --auth-secret-file or ${ENV_AUTH_SECRET}); using a random one, so no device can authenticate`);
    secret = randomBytes(32);
  }
  return { authenticator: new HmacTokenAuthority(secret, systemClock, { leewayMs: config.auth.leewayMs }), secret };
}

/** Runs one worker of `--workers N`: a gateway without an HTTP API, until the primary sends SIGTERM. */
async function runWorker(config: GatewayConfig, io: CliIo, stop: Promise<string>, logger: Logger): Promise<number> {
  const gateway = await startClusterWorker(config, io.env, logger);
  const signal = await stop;
  logger.info({ signal }, 'worker shutting down');
  await gateway.close();
  return EXIT_OK;
}

/** Runs the primary of `--workers N`: forks the workers, then serves the HTTP API in front of them. */
async function runPrimary(config: GatewayConfig, io: CliIo, stop: Promise<string>, logger: Logger, shared: { tls: ResolvedTls; secret: Uint8Array; authenticator: HmacTokenAuthority; demoTokens: boolean }): Promise<number> {
  let primary: ClusterPrimary;
  try {
    primary = await ClusterPrimary.start({
      workers: config.workers,
      maxFrameSize: config.maxFrameSize,
      logger,
      env: {
        [CLUSTER_TLS_CERT_ENV]: shared.tls.material.cert,
        [CLUSTER_TLS_KEY_ENV]: shared.tls.material.key,
        [CLUSTER_AUTH_SECRET_ENV]: Buffer.from(shared.secret).toString('base64'),
      },
    });
  } catch (error) {
    logger.fatal({ err: toError(error) }, 'gateway workers failed to start');
    io.stderr.write(`pushlab: gateway workers failed to start: ${toError(error).message}\n`);
    return EXIT_FAILURE;
  }
  const api = await startApiOrReport(config, io, logger, {
    target: primary,
    health: () => primary.health(),
    metrics: new GatewayMetrics(new ClusterMetricsRegistry()),
    routes: browserRoutes({
      listeners: () => primary.listeners.map((listener) => ({ ...listener, address: { host: listener.host, port: listener.port } })),
      logger,
      demoTokens: shared.demoTokens ? { issuer: shared.authenticator } : undefined,
    }),
  });
  if (!api) {
    await primary.close();
    return EXIT_FAILURE;
  }
  const ready = writeReadyLine(io, primary.listeners, api, shared.tls);
  logger.info({ workers: config.workers, listeners: ready.listeners, http: ready.http }, 'gateway ready');
  if (shared.demoTokens) warnDemoMode(api, logger);
  const signal = await stop;
  logger.info({ signal }, 'shutting down');
  return shutDown(api, primary, logger);
}

interface ResolvedTls {
  material: TlsServerMaterial;
  selfSigned: boolean;
  /** Hex SHA-256 over the certificate's DER bytes. */
  sha256: string;
}

async function resolveTls(config: GatewayConfig, logger: Logger): Promise<ResolvedTls> {
  if (config.tls !== undefined) {
    const material = await loadTlsFiles(config.tls);
    let der: Buffer;
    try {
      der = new X509Certificate(material.cert).raw;
    } catch (error) {
      throw new ConfigError(`tls.certFile: ${config.tls.certFile} does not parse as an X.509 certificate: ${toError(error).message}`, { cause: error });
    }
    logger.info({ certFile: config.tls.certFile }, 'TLS certificate loaded');
    return { material, selfSigned: false, sha256: createHash('sha256').update(der).digest('hex') };
  }
  const generated = await createSelfSignedCertificate();
  logger.warn(
    { notAfter: generated.notAfter.toISOString() },
    'no TLS certificate configured (tls.certFile/tls.keyFile or --tls-cert/--tls-key); using a self-signed certificate for development only',
  );
  return { material: { cert: generated.cert, key: generated.key }, selfSigned: true, sha256: Buffer.from(generated.sha256).toString('hex') };
}
