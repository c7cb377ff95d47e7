// A real gateway with its HTTP API and the browser routes on loopback, for the browser tests. The
// registry is wrapped so the test can reach each accepted connection (to send a datagram) and the
// webtransport listeners (to drive certificate rotation), without changing the gateway.
import client from 'prom-client';
import { HmacTokenAuthority } from '../../src/gateway/auth.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { startHttpApi, type HttpApi } from '../../src/gateway/http-api.js';
import type { GatewayListenerConfig, GatewayOptions } from '../../src/gateway/options.js';
import { silentLogger } from '../../src/logger.js';
import { GatewayMetrics } from '../../src/metrics/gateway-metrics.js';
import { browserRoutes } from '../../src/browser/server/routes.js';
import type { ListenerInfo } from '../../src/browser/server/webtransport-endpoint.js';
import { TransportRegistry } from '../../src/transport/registry.js';
import type { Transport, TransportConnection } from '../../src/transport/types.js';
import { createSelfSignedCertificate } from '../../src/tls/self-signed.js';
import { builtinTransports } from '../../transports/index.js';
import type { Clock } from '../../src/clock.js';
import { WebTransportTransport, type WebTransportListener } from '../../transports/webtransport/index.js';

export const TEST_SECRET = 'pushlab-browser-test-secret-0123456789abcdef';

export interface BrowserGateway {
  gateway: Gateway;
  api: HttpApi;
  metrics: GatewayMetrics;
  authority: HmacTokenAuthority;
  /** Every connection the listeners accepted, oldest first. */
  connections: TransportConnection[];
  /** The webtransport listeners opened with `webTransportClock`, for driving certificate rotation. */
  webTransportListeners: WebTransportListener[];
  /** http://localhost:PORT, the origin pages load from. */
  httpUrl: string;
  /** Publishes through the HTTP API, as a backend would. */
  publish(body: Record<string, unknown>): Promise<{ messageId: string; deliveries: { deviceId: string; seq: number; status: string }[] }>;
  /** Reads one sample of the Prometheus exposition, 0 when absent. */
  metric(name: string, labels: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

export interface BrowserGatewayOptions {
  listeners: Omit<GatewayListenerConfig, 'host' | 'port'>[];
  gateway?: Partial<GatewayOptions>;
  /** Replaces the gateway's listeners in the cert-hash document (to publish a broken endpoint). */
  listenerInfo?: () => ListenerInfo[];
  /** Clock of the webtransport listeners' certificate managers (settings.certificateManager 'self-signed'). */
  webTransportClock?: Clock;
}

/**
 * Returns the built-in transports. With a clock, webtransport's certificate manager runs on that
 * clock and each webtransport listener is recorded.
 */
function baseRegistry(clock: Clock | undefined, listeners: WebTransportListener[]): TransportRegistry {
  const registry = builtinTransports();
  if (clock === undefined) return registry;
  return registry.register('webtransport', () => {
    const transport = new WebTransportTransport('webtransport', {}, { clock });
    return {
      name: transport.name,
      kind: transport.kind,
      ipProtocol: transport.ipProtocol,
      secure: transport.secure,
      listen: async (options, onConnection) => {
        const listener = (await transport.listen(options, onConnection)) as WebTransportListener;
        listeners.push(listener);
        return listener;
      },
      dial: (options) => transport.dial(options),
    };
  });
}

function capturing(registry: TransportRegistry, connections: TransportConnection[]): TransportRegistry {
  const wrapped = new TransportRegistry();
  for (const name of registry.names()) {
    wrapped.register(name, (): Transport => {
      const transport = registry.create(name);
      return {
        name: transport.name,
        kind: transport.kind,
        ipProtocol: transport.ipProtocol,
        secure: transport.secure,
        listen: (options, onConnection) =>
          transport.listen(options, (connection) => {
            connections.push(connection);
            onConnection(connection);
          }),
        dial: (options) => transport.dial(options),
      };
    });
  }
  return wrapped;
}

export async function startBrowserGateway(options: BrowserGatewayOptions): Promise<BrowserGateway> {
  const logger = silentLogger();
  const cert = await createSelfSignedCertificate();
  const authority = new HmacTokenAuthority(TEST_SECRET);
  const metrics = new GatewayMetrics(new client.Registry());
  const connections: TransportConnection[] = [];
  const webTransportListeners: WebTransportListener[] = [];
  const gateway = await Gateway.start({
    registry: capturing(baseRegistry(options.webTransportClock, webTransportListeners), connections),
    listeners: options.listeners.map((listener) => ({ ...listener, host: '127.0.0.1', port: 0 })),
    tls: { cert: cert.cert, key: cert.key },
    authenticator: authority,
    logger,
    metrics,
    ...options.gateway,
  });
  let api: HttpApi;
  try {
    api = await startHttpApi({
      port: 0,
      target: gateway,
      health: () => gateway.health(),
      metrics,
      logger,
      routes: browserRoutes({ listeners: options.listenerInfo ?? (() => gateway.listeners), logger, demoTokens: { issuer: authority } }),
    });
  } catch (error) {
    await gateway.close();
    throw error;
  }
  const httpUrl = `http://localhost:${api.address.port}`;

  return {
    gateway,
    api,
    metrics,
    authority,
    connections,
    webTransportListeners,
    httpUrl,
    async publish(body) {
      const response = await fetch(`http://127.0.0.1:${api.address.port}/v1/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`publish returned HTTP ${response.status}: ${await response.text()}`);
      return (await response.json()) as Awaited<ReturnType<BrowserGateway['publish']>>;
    },
    async metric(name, labels) {
      const metric = metrics.registry.getSingleMetric(name);
      if (!metric) return 0;
      const data = await metric.get();
      const sample = data.values.find((value) => Object.entries(labels).every(([key, expected]) => String(value.labels[key]) === expected));
      return sample?.value ?? 0;
    },
    async close() {
      await api.close();
      await gateway.close();
    },
  };
}
