// Starts a real gateway on loopback with a self-signed certificate and real token auth, and builds
// clients for it over any registered transport.
import { Gateway } from '../../src/gateway/gateway.js';
import { HmacTokenAuthority } from '../../src/gateway/auth.js';
import type { GatewayOptions } from '../../src/gateway/options.js';
import { PushClient, type PushClientOptions } from '../../src/client/client.js';
import { createSelfSignedCertificate, type SelfSignedCertificate } from '../../src/tls/self-signed.js';
import { seededRandom } from '../../src/random.js';
import { silentLogger } from '../../src/logger.js';
import type { TransportRegistry } from '../../src/transport/registry.js';
import { builtinTransports } from '../../transports/index.js';

export const TEST_SECRET = 'pushlab-test-secret-0123456789abcdef-0123456789';

let certificate: Promise<SelfSignedCertificate> | null = null;

/** One certificate per test file is plenty and saves key generation time. */
export function testCertificate(): Promise<SelfSignedCertificate> {
  certificate ??= createSelfSignedCertificate();
  return certificate;
}

export interface GatewayFixture {
  gateway: Gateway;
  registry: TransportRegistry;
  authority: HmacTokenAuthority;
  cert: SelfSignedCertificate;
  clients: PushClient[];
  /** Builds (does not connect) a client for `transport`, dialing the gateway's listener directly or `via` an emulator address. */
  client(transport: string, options?: Partial<PushClientOptions> & { via?: { host: string; port: number } }): PushClient;
  close(): Promise<void>;
}

export async function startGateway(transports: string[], options: Partial<GatewayOptions> = {}): Promise<GatewayFixture> {
  const registry = options.registry ?? builtinTransports();
  const cert = await testCertificate();
  const authority = new HmacTokenAuthority(TEST_SECRET, options.clock);
  const gateway = await Gateway.start({
    registry,
    listeners: transports.map((transport) => ({ transport, host: '127.0.0.1', port: 0 })),
    tls: { cert: cert.cert, key: cert.key },
    authenticator: authority,
    logger: silentLogger(),
    ...options,
  });
  const clients: PushClient[] = [];
  let seed = 1;
  return {
    gateway,
    registry,
    authority,
    cert,
    clients,
    client(transport, clientOptions = {}) {
      const listener = gateway.listeners.find((l) => l.transport === transport);
      if (!listener) throw new Error(`no ${transport} listener in this fixture`);
      const userId = clientOptions.userId ?? 'alice';
      const deviceId = clientOptions.deviceId ?? `device-${clients.length + 1}`;
      const target = clientOptions.via ?? listener.address;
      const client = new PushClient({
        transport: registry.create(transport),
        host: target.host,
        port: target.port,
        tls: { ca: cert.cert, serverName: 'localhost' },
        transportSettings: listener.clientSettings,
        userId,
        deviceId,
        token: authority.issue({ userId, deviceId, ttlMs: 3_600_000 }),
        random: seededRandom(seed++),
        backoff: { initialMs: 50, maxMs: 500 },
        connectTimeoutMs: 5_000,
        ...clientOptions,
      });
      clients.push(client);
      return client;
    },
    async close() {
      for (const client of clients) client.close();
      await gateway.close();
    },
  };
}

/** Resolves when `predicate` holds, polling every 10 ms; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
