// Certificate rotation as a browser meets it. The webtransport listener issues its own 10-day
// certificates on a virtual clock that starts 7 days and an hour in the past. Both the first
// certificate and the one issued at the rotation are then valid in real time, which Chromium checks.
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock.js';
import { launchChromium } from './chromium.js';
import { startBrowserGateway, type BrowserGateway } from './harness.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
/** The certificate manager's default rotation age. */
const ROTATE_AFTER_MS = 7 * DAY_MS;
const WAIT_MS = 15_000;

interface HashDocument {
  url: string;
  hashes: { algorithm: string; value: string }[];
}

type PinOutcome = { outcome: 'connected' } | { outcome: 'failed'; message: string };

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

let gateway: BrowserGateway | null = null;
afterEach(async () => {
  await gateway?.close();
  gateway = null;
});

async function hashDocument(gw: BrowserGateway): Promise<HashDocument> {
  const response = await fetch(`${gw.httpUrl}/webtransport/cert-hashes`);
  return (await response.json()) as HashDocument;
}

/**
 * Connects a second client inside `page`, pinned to `hashes` (base64) instead of the gateway's
 * list, and reports whether WebTransport connected. The client is closed either way.
 */
function connectPinned(page: Page, hashes: string[], deviceId: string): Promise<PinOutcome> {
  return page.evaluate(
    async ({ hashes, deviceId }) => {
      const page = globalThis as unknown as { pushlabDemo: { pushlab: { connectPush(options: unknown): PinnedClient } }; location: { origin: string } };
      const response = await fetch('/demo/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: 'demo-rotation', deviceId }) });
      const { token } = (await response.json()) as { token: string };
      const client = page.pushlabDemo.pushlab.connectPush({
        gatewayHttpUrl: page.location.origin,
        userId: 'demo-rotation',
        deviceId,
        token,
        transports: ['webtransport'],
        connectTimeoutMs: 5_000,
        webTransport: { serverCertificateHashes: hashes.map((value) => ({ algorithm: 'sha-256', value })) },
      });
      const outcome = await new Promise<PinOutcome>((resolve) => {
        client.on('state', (state) => {
          if (state.kind === 'connected') resolve({ outcome: 'connected' });
        });
        client.on('fallback', (event) => resolve({ outcome: 'failed', message: event.error.message }));
      });
      await client.close();
      return outcome;

      interface PinnedClient {
        on(event: 'state', listener: (state: { kind: string }) => void): void;
        on(event: 'fallback', listener: (event: { error: { message: string } }) => void): void;
        close(): Promise<void>;
      }
    },
    { hashes, deviceId },
  );
}

async function waitForMessageCount(page: Page, count: number): Promise<string[]> {
  await page.waitForFunction((expected) => (globalThis as unknown as { pushlabDemo: { messages: unknown[] } }).pushlabDemo.messages.length >= expected, count, { timeout: WAIT_MS });
  return page.evaluate(() => (globalThis as unknown as { pushlabDemo: { messages: { text: string }[] } }).pushlabDemo.messages.map((message) => message.text));
}

describe('certificate rotation in the browser', () => {
  it('keeps sessions and serves both hashes during the overlap', async () => {
    const clock = new VirtualClock(Date.now() - ROTATE_AFTER_MS - HOUR_MS);
    gateway = await startBrowserGateway({ listeners: [{ transport: 'webtransport', settings: { certificateManager: 'self-signed' } }], webTransportClock: clock });
    const manager = gateway.webTransportListeners[0]!.certificates.certificateManager!;
    const before = await hashDocument(gateway);
    expect(before.hashes).toHaveLength(1);
    const oldHash = before.hashes[0]!.value;

    const page = await browser.newPage();
    await page.goto(`${gateway.httpUrl}/demo?user=demo-rotation&device=tab-a&ping=0`);
    await page.waitForFunction(() => (globalThis as unknown as { pushlabDemo?: { state: string } }).pushlabDemo?.state === 'connected', undefined, { timeout: WAIT_MS });
    expect(await connectPinned(page, [oldHash], 'probe-before')).toEqual({ outcome: 'connected' });

    clock.advance(ROTATE_AFTER_MS + HOUR_MS);
    await manager.idle();
    const during = await hashDocument(gateway);
    expect(during.hashes).toHaveLength(2);
    expect(during.hashes[1]!.value).toBe(oldHash);
    const newHash = during.hashes[0]!.value;
    expect(newHash).not.toBe(oldHash);

    // The session opened on the old certificate carries on.
    await gateway.publish({ userId: 'demo-rotation', deviceId: 'tab-a', payload: 'after rotation' });
    expect(await waitForMessageCount(page, 1)).toEqual(['after rotation']);

    // New sessions meet the new certificate: any list that contains its hash works.
    expect(await connectPinned(page, [newHash, oldHash], 'probe-both')).toEqual({ outcome: 'connected' });
    expect(await connectPinned(page, [newHash], 'probe-new')).toEqual({ outcome: 'connected' });
    // A page that pinned only the old hash cannot open a new session; the client avoids this by
    // fetching the list again before every attempt.
    const oldOnly = await connectPinned(page, [oldHash], 'probe-old');
    expect(oldOnly.outcome).toBe('failed');

    // The demo page refetches the list when it reconnects, so it lands on the new certificate.
    await page.evaluate(() => (globalThis as unknown as { pushlabDemo: { client: { dropConnection(): void } } }).pushlabDemo.client.dropConnection());
    await gateway.publish({ userId: 'demo-rotation', deviceId: 'tab-a', payload: 'after reconnect' });
    expect(await waitForMessageCount(page, 2)).toEqual(['after rotation', 'after reconnect']);

    // Once the old certificate expires, its hash is withdrawn.
    const oldExpiry = manager.validCertificates().at(-1)!.notAfter.getTime();
    clock.advance(oldExpiry - clock.now() + MINUTE_MS);
    await manager.idle();
    expect((await hashDocument(gateway)).hashes.map((hash) => hash.value)).toEqual([newHash]);
    await page.close();
  });
});
