// A gateway in this process for the browser runner: a webtransport listener and the HTTP API with
// the browser routes and demo tokens, both on 127.0.0.1 with free ports.
import { randomBytes } from 'node:crypto';
import { HmacTokenAuthority } from '../gateway/auth.js';
import { Gateway } from '../gateway/gateway.js';
import { startHttpApi } from '../gateway/http-api.js';
import type { Logger } from '../logger.js';
import { browserRoutes } from '../browser/server/routes.js';
import { createSelfSignedCertificate } from '../tls/self-signed.js';
import { builtinTransports } from '../../transports/index.js';

export interface LocalGateway {
  /** http://localhost:PORT, the origin the pages load from (a secure context, unlike other names). */
  pageUrl: string;
  /** http://127.0.0.1:PORT, for the runner's own publishes. */
  apiUrl: string;
  close(): Promise<void>;
}

export async function startLocalGateway(logger: Logger): Promise<LocalGateway> {
  const cert = await createSelfSignedCertificate();
  const authority = new HmacTokenAuthority(randomBytes(32));
  const gateway = await Gateway.start({
    registry: builtinTransports(),
    listeners: [{ transport: 'webtransport', host: '127.0.0.1', port: 0 }],
    tls: { cert: cert.cert, key: cert.key },
    authenticator: authority,
    logger,
  });
  try {
    const api = await startHttpApi({
      port: 0,
      target: gateway,
      health: () => gateway.health(),
      metrics: gateway.metrics,
      logger,
      // The runner opens every page at once, so the demo token limit must cover all of them.
      routes: browserRoutes({ listeners: () => gateway.listeners, logger, demoTokens: { issuer: authority, perMinute: 1_000 } }),
    });
    return {
      pageUrl: `http://localhost:${api.address.port}`,
      apiUrl: `http://127.0.0.1:${api.address.port}`,
      async close() {
        await api.close();
        await gateway.close();
      },
    };
  } catch (error) {
    await gateway.close();
    throw error;
  }
}
