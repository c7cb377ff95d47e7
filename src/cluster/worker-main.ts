// A worker process of a multi-process gateway: runs the transports and the sessions of the users
// it owns, with no HTTP API of its own. The primary passes the TLS material and the auth secret
// through the environment so every worker presents the same certificate and accepts the same tokens.
import cluster from 'node:cluster';
import client from 'prom-client';
import { builtinTransports } from '../../transports/index.js';
import { systemClock } from '../clock.js';
import { toGatewayOptions } from '../config/gateway-options.js';
import type { GatewayConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { HmacTokenAuthority } from '../gateway/auth.js';
import { Gateway } from '../gateway/gateway.js';
import type { Logger } from '../logger.js';
import { collectProcessMetrics, GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { ClusterEnvelope } from './messages.js';
import { WORKER_COUNT_ENV, WORKER_INDEX_ENV } from './messages.js';
import { WorkerPlacement } from './worker-placement.js';

export const CLUSTER_TLS_CERT_ENV = 'PUSHLAB_CLUSTER_TLS_CERT';
export const CLUSTER_TLS_KEY_ENV = 'PUSHLAB_CLUSTER_TLS_KEY';
export const CLUSTER_AUTH_SECRET_ENV = 'PUSHLAB_CLUSTER_AUTH_SECRET';

export function isClusterWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_INDEX_ENV] !== undefined;
}

/** Starts this worker's gateway; resolves with the running gateway once the primary has been notified that it is ready. */
export async function startClusterWorker(config: GatewayConfig, env: NodeJS.ProcessEnv, logger: Logger): Promise<Gateway> {
  const index = Number(env[WORKER_INDEX_ENV]);
  const workers = Number(env[WORKER_COUNT_ENV]);
  const cert = env[CLUSTER_TLS_CERT_ENV];
  const key = env[CLUSTER_TLS_KEY_ENV];
  const secret = env[CLUSTER_AUTH_SECRET_ENV];
  if (!Number.isInteger(index) || !Number.isInteger(workers) || !cert || !key || !secret) {
    throw new ConfigError(`worker process started without ${WORKER_INDEX_ENV}, ${WORKER_COUNT_ENV}, TLS material or auth secret from the primary`);
  }
  const workerLogger = logger.child({ worker: index });
  const post = (envelope: ClusterEnvelope): void => {
    if (process.connected) process.send?.(envelope);
  };
  const placement = new WorkerPlacement(index, workers, workerLogger, post);

  // prom-client's cluster aggregation reads each worker's default registry; constructing an
  // AggregatorRegistry is what installs the worker's answer to the primary's metrics requests.
  new client.AggregatorRegistry();
  collectProcessMetrics(client.register);
  const metrics = new GatewayMetrics(client.register);
  const authenticator = new HmacTokenAuthority(Buffer.from(secret, 'base64'), systemClock, { leewayMs: config.auth.leewayMs });
  const options = toGatewayOptions(config, { registry: builtinTransports(), logger: workerLogger, tls: { cert, key }, authenticator, metrics });
  options.placement = placement;

  const gateway = await Gateway.start(options);
  placement.attach(gateway);
  process.on('message', (message: unknown) => {
    const envelope = message as ClusterEnvelope;
    if (envelope && typeof envelope === 'object' && 'body' in envelope) placement.receive(envelope);
  });
  post({
    to: 'primary',
    body: {
      t: 'ready',
      listeners: gateway.listeners.map((l) => ({ transport: l.transport, host: l.address.host, port: l.address.port })),
      clientSettings: gateway.listeners.map((l) => l.clientSettings),
    },
  });
  workerLogger.info({ listeners: gateway.listeners.map((l) => l.address) }, 'worker ready');
  return gateway;
}
