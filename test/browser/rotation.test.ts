// Certificate rotation as a browser meets it. The webtransport listener issues its own 10-day
// certificates on a virtual clock that starts 7 days and an hour in the past. Both the first
// certificate and the one issued at its day 7 are then valid in real time, which Chromium checks,
// also after the virtual clock passes the first one's expiry.
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock.js';
import { launchChromium } from './chromium.js';
import { startBrowserGateway, type BrowserGateway } from './harness.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
/** Age of the served certificate at which the manager issues and publishes the next one. */
const ISSUE_AFTER_MS = 7 * DAY_MS;
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
  it('connects with the old pin until it expires', async () => {
    const clock = new VirtualClock(Date.now() - ISSUE_AFTER_MS - HOUR_MS);
    gateway = await startBrowserGateway({ listeners: [{ transport: 'webtransport', settings: { certificateManager: 'self-signed' } }], webTransportClock: clock });
    const manager = gateway.webTransportListeners[0]!.certificates.certificateManager!;
    const before = await hashDocument(gateway);
    expect(before.hashes).toHaveLength(1);
    const oldHash = before.hashes[0]!.value;

    // The demo page fetches the list and connects on the old certificate.
    const page = await browser.newPage();
    await page.goto(`${gateway.httpUrl}/demo?user=demo-rotation&device=tab-a&ping=0`);
    await page.waitForFunction(() => (globalThis as unknown as { pushlabDemo?: { state: string } }).pushlabDemo?.state === 'connected', undefined, { timeout: WAIT_MS });

    // Overlap: the next certificate is published, the old one still serves.
    clock.advance(ISSUE_AFTER_MS + HOUR_MS);
    await manager.idle();
    const during = await hashDocument(gateway);
    expect(during.hashes).toHaveLength(2);
    expect(during.hashes[0]!.value).toBe(oldHash);
    const newHash = during.hashes[1]!.value;
    expect(newHash).not.toBe(oldHash);
    expect(await connectPinned(page, [oldHash], 'probe-old-during')).toEqual({ outcome: 'connected' });
    expect(await connectPinned(page, [oldHash, newHash], 'probe-both-during')).toEqual({ outcome: 'connected' });
    // The server presents one certificate per connection, and it is still the old one.
    expect((await connectPinned(page, [newHash], 'probe-new-during')).outcome).toBe('failed');

    // The old certificate expires: the next one serves and the old hash is withdrawn.
    clock.advance(manager.serving().notAfter.getTime() - clock.now() + MINUTE_MS);
    await manager.idle();
    expect((await hashDocument(gateway)).hashes.map((hash) => hash.value)).toEqual([newHash]);
    expect((await connectPinned(page, [oldHash], 'probe-old-after')).outcome).toBe('failed');
    expect(await connectPinned(page, [newHash], 'probe-new-after')).toEqual({ outcome: 'connected' });

    // The session opened on the old certificate carries on across the switch.
    await gateway.publish({ userId: 'demo-rotation', deviceId: 'tab-a', payload: 'after the switch' });
    expect(await waitForMessageCount(page, 1)).toEqual(['after the switch']);
    await page.close();
  });
});
