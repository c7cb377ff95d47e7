import { createHash } from 'node:crypto';
import client from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { HmacTokenAuthority } from '../../src/gateway/auth.js';
import { startHttpApi, type HttpApi } from '../../src/gateway/http-api.js';
import type { PublishTarget } from '../../src/gateway/types.js';
import { silentLogger } from '../../src/logger.js';
import { GatewayMetrics } from '../../src/metrics/gateway-metrics.js';
import { browserRoutes, CLIENT_BUNDLE_PATH } from '../../src/browser/server/routes.js';
import type { ListenerInfo } from '../../src/browser/server/webtransport-endpoint.js';

const SECRET = 'browser-routes-test-secret-0123456789abcdef';
const HASH_BASE64 = createHash('sha256').update('certificate').digest('base64');

const target: PublishTarget = {
  publish: async (request) => ({ messageId: 'm1', deliveries: [{ deviceId: request.deviceId ?? 'd', seq: 1, status: 'sent' }] }),
};

let api: HttpApi | null = null;
afterEach(async () => {
  await api?.close();
  api = null;
});

interface StartOptions {
  listeners?: ListenerInfo[];
  demo?: boolean;
  perMinute?: number;
}

async function start(options: StartOptions = {}): Promise<{ url: (path: string) => string; authority: HmacTokenAuthority }> {
  const authority = new HmacTokenAuthority(SECRET);
  const logger = silentLogger();
  api = await startHttpApi({
    port: 0,
    target,
    health: () => ({ status: 'ok', sessions: 0, listeners: [], uptimeSeconds: 0 }),
    metrics: new GatewayMetrics(new client.Registry()),
    logger,
    routes: browserRoutes({
      listeners: () => options.listeners ?? [],
      logger,
      demoTokens: options.demo ? { issuer: authority, perMinute: options.perMinute } : undefined,
    }),
  });
  const port = api.address.port;
  return { url: (path) => `http://127.0.0.1:${port}${path}`, authority };
}

function postToken(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

describe('browser routes', () => {
  it('redirects the root to the demo page', async () => {
    const { url } = await start();
    const response = await fetch(url('/'), { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/demo');
  });

  it('serves the demo page and its script', async () => {
    const { url } = await start();
    const page = await fetch(url('/demo'));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('/demo/app.js');
    const script = await fetch(url('/demo/app.js'));
    expect(script.headers.get('content-type')).toContain('text/javascript');
    expect(await script.text()).toContain(CLIENT_BUNDLE_PATH);
  });

  it('serves the bundled client', async () => {
    const { url } = await start();
    const response = await fetch(url(CLIENT_BUNDLE_PATH));
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('function connectPush');
    expect(text).not.toMatch(/from\s*["']node:/);
  });

  it('returns 404 for cert hashes without a webtransport listener', async () => {
    const { url } = await start({ listeners: [{ transport: 'tcp', address: { host: '127.0.0.1', port: 7000 } }] });
    const response = await fetch(url('/webtransport/cert-hashes'));
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain('--listen webtransport=');
  });

  it('publishes the live listener hashes', async () => {
    const listeners: ListenerInfo[] = [{ transport: 'webtransport', address: { host: '127.0.0.1', port: 4433 }, clientSettings: { path: '/pushlab', certificateHashes: [] } }];
    const { url } = await start({ listeners });
    const first = (await (await fetch(url('/webtransport/cert-hashes'))).json()) as { url: string; hashes: unknown[] };
    expect(first.url).toBe('https://127.0.0.1:4433/pushlab');
    expect(first.hashes).toEqual([]);

    listeners[0]!.clientSettings = { path: '/pushlab', certificateHashes: [{ algorithm: 'sha-256', value: HASH_BASE64 }] };
    const second = await fetch(url('/webtransport/cert-hashes'), { headers: { origin: 'http://localhost:5173' } });
    expect(second.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(second.headers.get('cache-control')).toBe('no-store');
    expect(((await second.json()) as { hashes: unknown[] }).hashes).toEqual([{ algorithm: 'sha-256', value: HASH_BASE64 }]);
  });

  it('lists its routes in the 404 message', async () => {
    const { url } = await start();
    const response = await fetch(url('/nothing'));
    const message = ((await response.json()) as { error: { message: string } }).error.message;
    expect(message).toContain('POST /v1/publish');
    expect(message).toContain('GET /demo');
  });
});

describe('demo tokens', () => {
  it('are absent without demo mode', async () => {
    const { url } = await start();
    expect((await postToken(url('/demo/token'), {})).status).toBe(404);
  });

  it('sign a token the gateway accepts', async () => {
    const { url, authority } = await start({ demo: true });
    const response = await postToken(url('/demo/token'), { userId: 'demo-alice', deviceId: 'tab-1' });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { token: string; userId: string; deviceId: string; expiresAt: string };
    expect(body.userId).toBe('demo-alice');
    const claims = authority.verify(body.token, { userId: 'demo-alice', deviceId: 'tab-1' });
    expect(claims.expiresAt - claims.issuedAt).toBe(10 * 60_000);
    expect(() => authority.verify(body.token, { userId: 'demo-alice', deviceId: 'tab-2' })).toThrow(/another device/);
  });

  it('default to a demo user and a random device', async () => {
    const { url } = await start({ demo: true });
    const body = (await (await postToken(url('/demo/token'), {})).json()) as { userId: string; deviceId: string };
    expect(body.userId).toBe('demo-user');
    expect(body.deviceId).toMatch(/^browser-[0-9a-f]{8}$/);
  });

  it.each([
    ['a user outside demo-*', { userId: 'alice' }],
    ['a device with a slash', { userId: 'demo-alice', deviceId: 'a/b' }],
    ['an array body', []],
  ])('reject %s', async (_name, body) => {
    const { url } = await start({ demo: true });
    const response = await postToken(url('/demo/token'), body);
    expect(response.status).toBe(400);
  });

  it('reject a non-JSON content type', async () => {
    const { url } = await start({ demo: true });
    const response = await fetch(url('/demo/token'), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    expect(response.status).toBe(415);
  });

  it('reject another origin', async () => {
    const { url } = await start({ demo: true });
    const response = await postToken(url('/demo/token'), {}, { origin: 'http://evil.test' });
    expect(response.status).toBe(403);
  });

  it('stop at the rate limit', async () => {
    const { url } = await start({ demo: true, perMinute: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await postToken(url('/demo/token'), {})).status);
    expect(statuses).toEqual([200, 200, 429]);
  });
});
