// Translation of a validated GatewayConfig into the options the Gateway class takes.
import type { Clock } from '../clock.js';
import { ConfigError } from '../errors.js';
import type { GatewayOptions, TokenVerifier } from '../gateway/options.js';
import type { UpstreamHandler } from '../gateway/upstream.js';
import type { Logger } from '../logger.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { TransportRegistry } from '../transport/registry.js';
import type { TlsServerMaterial } from '../transport/types.js';
import type { GatewayConfig } from './schema.js';

export interface GatewayRuntime {
  registry: TransportRegistry;
  logger: Logger;
  /** Certificate and key for TLS-based transports, already read or generated. */
  tls?: TlsServerMaterial;
  authenticator: TokenVerifier;
  metrics?: GatewayMetrics;
  clock?: Clock;
  onUpstream?: UpstreamHandler;
}

/**
 * Builds GatewayOptions from `config` and the runtime objects it cannot hold (registry, logger,
 * TLS material, token verifier). Throws ConfigError naming the listener whose transport is not
 * registered.
 */
export function toGatewayOptions(config: GatewayConfig, runtime: GatewayRuntime): GatewayOptions {
  config.listeners.forEach((listener, index) => {
    if (!runtime.registry.has(listener.transport)) {
      throw new ConfigError(
        `listeners[${index}].transport: unknown transport ${JSON.stringify(listener.transport)}; registered transports: ${runtime.registry.names().join(', ') || 'none'}`,
      );
    }
  });

  const options: GatewayOptions = {
    registry: runtime.registry,
    listeners: config.listeners.map((listener) => ({ ...listener })),
    authenticator: runtime.authenticator,
    heartbeat: { ...config.heartbeat },
    maxFrameSize: config.maxFrameSize,
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    coalescing: { ...config.coalescing },
    sendWindow: config.sendWindow,
    inboxLimit: config.inboxLimit,
    logger: runtime.logger,
  };
  if (runtime.tls !== undefined) options.tls = runtime.tls;
  if (runtime.metrics !== undefined) options.metrics = runtime.metrics;
  if (runtime.clock !== undefined) options.clock = runtime.clock;
  if (runtime.onUpstream !== undefined) options.onUpstream = runtime.onUpstream;
  return options;
}
