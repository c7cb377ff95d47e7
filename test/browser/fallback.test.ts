// The transport ladder in a real Chromium, against gateways that cannot serve WebTransport: the
// page must report why each rung was skipped and keep retrying, never crash.
import dgram from 'node:dgram';
import { createHash } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, pageProblems } from './chromium.js';
import { startBrowserGateway, type BrowserGateway } from './harness.js';

interface DemoHook {
  state: string;
  states: string[];
  fallbacks: { transport: string; next: string | null; message: string; name: string }[];
}

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium(['MAP pushlab.test 127.0.0.1']);
});
afterAll(async () => {
  await browser?.close();
});

const gateways: BrowserGateway[] = [];
afterEach(async () => {
  for (const gateway of gateways.splice(0)) await gateway.close();
});

/** Returns a UDP port on loopback that nothing listens on (bound once, then released). */
async function unusedUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Waits until the page has reported both rungs of the default ladder. */
async function ladderReport(page: Page): Promise<DemoHook> {
  await page.waitForFunction(() => (globalThis as unknown as { pushlabDemo?: DemoHook }).pushlabDemo?.fallbacks.length! >= 2, undefined, { timeout: 20_000 });
  return page.evaluate(() => {
    const demo = (globalThis as unknown as { pushlabDemo: DemoHook }).pushlabDemo;
    return { state: demo.state, states: [...demo.states], fallbacks: demo.fallbacks.map((f) => ({ ...f })) };
  });
}

describe('browser fallback ladder', () => {
  it('skips webtransport when the gateway has no listener', async () => {
    const gateway = await startBrowserGateway({ listeners: [{ transport: 'tcp' }] });
    gateways.push(gateway);
    const page = await browser.newPage();
    const problems = pageProblems(page);
    await page.goto(`${gateway.httpUrl}/demo?user=demo-fallback&device=tab-1`);

    const report = await ladderReport(page);
    expect(report.states[0]).toBe('connecting');
    expect(report.fallbacks[0]).toMatchObject({ transport: 'webtransport', next: 'http-polling', name: 'TransportSkippedError' });
    expect(report.fallbacks[0]!.message).toContain('runs no WebTransport listener');
    expect(report.fallbacks[1]).toMatchObject({ transport: 'http-polling', next: null, name: 'TransportSkippedError' });
    expect(report.fallbacks[1]!.message).toContain('no HTTP long-polling endpoint yet');
    await page.waitForFunction(() => (globalThis as unknown as { pushlabDemo: DemoHook }).pushlabDemo.states.includes('backoff'));
    expect(await page.textContent('#state')).toMatch(/^(waiting|connecting)/);
    // Chromium logs the 404 of the cert-hash document itself; any other message is a page bug.
    expect(problems.filter((problem) => !problem.includes('status of 404'))).toEqual([]);
    await page.close();
  });

  it('reports an unreachable webtransport endpoint', async () => {
    const port = await unusedUdpPort();
    const hash = createHash('sha256').update('no such certificate').digest('base64');
    const gateway = await startBrowserGateway({
      listeners: [{ transport: 'tcp' }],
      listenerInfo: () => [{ transport: 'webtransport', address: { host: '127.0.0.1', port }, clientSettings: { certificateHashes: [{ algorithm: 'sha-256', value: hash }] } }],
    });
    gateways.push(gateway);
    const page = await browser.newPage();
    const problems = pageProblems(page);
    await page.goto(`${gateway.httpUrl}/demo?user=demo-fallback&device=tab-2&connect-timeout=4000`);

    const report = await ladderReport(page);
    expect(report.fallbacks[0]).toMatchObject({ transport: 'webtransport', next: 'http-polling' });
    expect(report.fallbacks[0]!.message).toMatch(new RegExp(`WebTransport session to https://127\\.0\\.0\\.1:${port}/pushlab failed|no welcome within 4000 ms`));
    expect(report.fallbacks[1]).toMatchObject({ transport: 'http-polling', name: 'TransportSkippedError' });
    // Chromium reports the failed handshake on the console by itself; nothing else may appear.
    expect(problems.filter((problem) => !problem.includes('WebTransport') && !problem.includes('net::'))).toEqual([]);
    await page.close();
  });

  it('skips webtransport outside a secure context', async () => {
    const gateway = await startBrowserGateway({ listeners: [{ transport: 'tcp' }] });
    gateways.push(gateway);
    const page = await browser.newPage();
    const problems = pageProblems(page);
    // pushlab.test maps to 127.0.0.1, but only localhost and loopback IPs count as secure origins.
    await page.goto(`http://pushlab.test:${gateway.api.address.port}/demo?user=demo-fallback&device=tab-3`);
    expect(await page.evaluate(() => (globalThis as unknown as { isSecureContext: boolean }).isSecureContext)).toBe(false);

    const report = await ladderReport(page);
    expect(report.fallbacks[0]).toMatchObject({ transport: 'webtransport', name: 'TransportSkippedError' });
    expect(report.fallbacks[0]!.message).toContain('not a secure context');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('retries at once when the network returns', async () => {
    const gateway = await startBrowserGateway({ listeners: [{ transport: 'tcp' }] });
    gateways.push(gateway);
    const page = await browser.newPage();
    await page.goto(`${gateway.httpUrl}/demo?user=demo-fallback&device=tab-4`);
    // A client of its own with a back-off far longer than the test, so only 'online' can wake it.
    const attempts = await page.evaluate(async () => {
      const scope = globalThis as unknown as {
        pushlabDemo: { pushlab: { connectPush(options: unknown): { state: { kind: string; attempt?: number }; on(event: 'state', listener: (state: { kind: string; attempt?: number }) => void): void } } };
        location: { origin: string };
        dispatchEvent(event: unknown): void;
        Event: new (type: string) => unknown;
        setTimeout(callback: () => void, ms: number): void;
      };
      const client = scope.pushlabDemo.pushlab.connectPush({
        gatewayHttpUrl: scope.location.origin,
        userId: 'demo-fallback',
        deviceId: 'tab-5',
        token: 'unused',
        backoff: { initialMs: 600_000, maxMs: 600_000 },
        random: () => 0.99,
      });
      const seen: number[] = [];
      await new Promise<void>((resolve) => {
        client.on('state', (state) => {
          if (state.kind === 'connecting' && state.attempt !== undefined && !seen.includes(state.attempt)) seen.push(state.attempt);
          if (state.kind === 'backoff' && seen.length === 1) scope.setTimeout(() => scope.dispatchEvent(new scope.Event('online')), 0);
          if (seen.length === 2) resolve();
        });
      });
      return seen;
    });
    expect(attempts).toEqual([1, 2]);
    await page.close();
  });
});
