// End to end in a real Chromium: the demo page, served by the gateway, connects over WebTransport
// to 127.0.0.1, receives and acks pushes, replies to a server-sent datagram, publishes upstream,
// pings on heartbeat silence, resumes after a dropped connection, stops when replaced or refused,
// and closes with NORMAL.
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/codec/frame-codec.js';
import { launchChromium, pageProblems } from './chromium.js';
import { startBrowserGateway, type BrowserGateway } from './harness.js';

/** The part of window.pushlabDemo these tests read; see web/demo.js. */
interface DemoHook {
  state: string;
  states: string[];
  transport: string | null;
  url: string | null;
  messages: { seq: number; text: string; publishedAtMs: number; receivedAtMs: number; replay: boolean; via: string }[];
  fallbacks: { transport: string; message: string }[];
  rtts: { ms: number; source: 'heartbeat' | 'probe' }[];
  closed: string | null;
  pushlab: { connectPush(options: Record<string, unknown>): { on(event: 'closed', listener: (error: { message: string }) => void): void } };
  client: {
    stats: { datagramsReceived: number; duplicatesReceived: number; messagesReceived: number; acksSent: number };
    publish(text: string, options: { toUserId?: string }): Promise<{ clientSeq: number; messageId: string; duplicate: boolean }>;
    dropConnection(): void;
    close(): Promise<void>;
  };
}

const WAIT_MS = 15_000;

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

async function openDemo(gw: BrowserGateway, userId: string, deviceId: string, query = ''): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems = pageProblems(page);
  await page.goto(`${gw.httpUrl}/demo?user=${userId}&device=${deviceId}${query}`);
  await page.waitForFunction(() => (globalThis as unknown as { pushlabDemo?: DemoHook }).pushlabDemo?.state === 'connected', undefined, { timeout: WAIT_MS });
  return { page, problems };
}

function demoField<K extends keyof DemoHook>(page: Page, key: K): Promise<DemoHook[K]> {
  return page.evaluate((name) => structuredClone((globalThis as unknown as { pushlabDemo: Record<string, unknown> }).pushlabDemo[name]), key as string) as Promise<DemoHook[K]>;
}

async function waitForMessages(page: Page, count: number): Promise<DemoHook['messages']> {
  await page.waitForFunction((expected) => (globalThis as unknown as { pushlabDemo: DemoHook }).pushlabDemo.messages.length >= expected, count, { timeout: WAIT_MS });
  return demoField(page, 'messages');
}

/** Polls `read` until it returns `expected` or the wait runs out; returns the last value read. */
async function eventually<T>(read: () => Promise<T>, expected: T, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (value !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await read();
  }
  return value;
}

describe('browser end to end', () => {
  it('delivers and acks pushes over webtransport', async () => {
    gateway = await startBrowserGateway({ listeners: [{ transport: 'webtransport' }] });
    const port = gateway.gateway.listeners[0]!.address.port;
    const { page, problems } = await openDemo(gateway, 'demo-e2e', 'tab-1', '&ping=300');

    expect(await demoField(page, 'transport')).toBe('webtransport');
    expect(await demoField(page, 'url')).toBe(`https://127.0.0.1:${port}/pushlab`);
    expect(await demoField(page, 'fallbacks')).toEqual([]);

    const texts = ['one', 'two', 'three', 'four', 'five'];
    for (const text of texts) {
      const result = await gateway.publish({ userId: 'demo-e2e', deviceId: 'tab-1', payload: text });
      expect(result.deliveries).toHaveLength(1);
    }
    const messages = await waitForMessages(page, texts.length);
    expect(messages.map((message) => message.text)).toEqual(texts);
    expect(messages.map((message) => message.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(messages.every((message) => message.via === 'stream' && !message.replay)).toBe(true);
    expect(messages.every((message) => message.receivedAtMs >= message.publishedAtMs)).toBe(true);
    expect(await page.textContent('#messages')).toContain('five');

    expect(await eventually(() => gateway!.metric('pushlab_pushes_acked_total', { transport: 'webtransport' }), 5)).toBe(5);
    expect(gateway.gateway.devices.get('demo-e2e', 'tab-1')?.inbox.pendingCount).toBe(0);

    await page.waitForFunction(() => (globalThis as unknown as { pushlabDemo: DemoHook }).pushlabDemo.rtts.length >= 2, undefined, { timeout: WAIT_MS });
    expect(await page.textContent('#rtt')).toMatch(/ms last/);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('receives a server-sent datagram', async () => {
    gateway = await startBrowserGateway({ listeners: [{ transport: 'webtransport' }] });
    const { page } = await openDemo(gateway, 'demo-e2e', 'tab-2', '&ping=0');
    const connection = gateway.connections.at(-1)!;
    expect(connection.transport).toBe('webtransport');

    // A ping the gateway sends unreliably: the page counts the datagram and replies with a pong.
    connection.sendUnreliable(encodeFrame({ ping: { nonce: 4242, sentAtMs: Date.now() } }));
    await page.waitForFunction(() => (globalThis as unknown as { pushlabDemo: DemoHook }).pushlabDemo.client.stats.datagramsReceived >= 1, undefined, { timeout: WAIT_MS });
    expect(await page.textContent('#datagrams')).not.toBe('');
    const stats = await page.evaluate(() => ({ ...(globalThis as unknown as { pushlabDemo: DemoHook }).pushlabDemo.client.stats }));
    expect(stats.datagramsReceived).toBe(1);
    expect(await demoField(page, 'state')).toBe('connected');
    await page.close();
  });

  it('publishes upstream from the page', async () => {
    gateway = await startBrowserGateway({ listeners: [{ transport: 'webtransport' }] });
    const { page } = await openDemo(gateway, 'demo-e2e', 'tab-3', '&ping=0');

    // Without an upstream handler the gateway relays a publish to its recipient, here the page's own user.
    const receipt = await page.evaluate(() => (globalThis as unknown as { pushlabDemo: DemoHook }).pushlabDemo.client.publish('from the page', { toUserId: 'demo-e2e' }));
    expect(receipt.clientSeq).toBe(1);
    expect(receipt.duplicate).toBe(false);
    const messages = await waitForMessages(page, 1);
    expect(messages[0]!.text).toBe('from the page');
    expect(await eventually(() => gateway!.metric('pushlab_upstream_applied_total', { transport: 'webtransport' }), 1)).toBe(1);
    await page.close();
  });

  it('resumes after a dropped connection', async () => {
    gateway = await startBrowserGateway({ listeners: [{ transport: 'webtransport' }] });
    const { page } = await openDemo(gateway, 'demo-e2e', 'tab-4', '&ping=0');
    await gateway.publish({ userId: 'demo-e2e', deviceId: 'tab-4', payload: 'before' });
    await waitForMessages(page, 1);

    await page.evaluate(() => (globalThis as unknown as { pushlabDemo: DemoHook }).pushlabDemo.client.dropConnection());
    await gateway.publish({ userId: 'demo-e2e', deviceId: 'tab-4', payload: 'during' });
    await gateway.publish({ userId: 'demo-e2e', deviceId: 'tab-4', payload: 'after' });
    const messages = await waitForMessages(page, 3);
    expect(messages.map((message) => message.text)).toEqual(['before', 'during', 'after']);
    expect(messages.map((message) => message.seq)).toEqual([1, 2, 3]);

    const states = await demoField(page, 'states');
    expect(states.filter((state) => state === 'connected').length).toBeGreaterThanOrEqual(2);
    expect(states).toContain('backoff');
    expect(await eventually(() => gateway!.metric('pushlab_resumes_total', { transport: 'webtransport', outcome: 'resumed' }), 1)).toBe(1);
    const stats = await page.evaluate(() => ({ ...(globalThis as unknown as { pushlabDemo: DemoHook }).pushlabDemo.client.stats }));
    expect(stats.messagesReceived).toBe(3);
    await page.close();
  });

  it('closes with NORMAL', async () => {
    gateway = await startBrowserGateway({ listeners: [{ transport: 'webtransport' }] });
    const { page, problems } = await openDemo(gateway, 'demo-e2e', 'tab-5', '&ping=0');
    await page.evaluate(() => (globalThis as unknown as { pushlabDemo: DemoHook }).pushlabDemo.client.close());

    expect(await eventually(() => gateway!.metric('pushlab_connections_closed_total', { transport: 'webtransport', code: 'NORMAL' }), 1)).toBe(1);
    expect(await demoField(page, 'state')).toBe('closed');
    expect(await eventually(async () => gateway!.gateway.sessionCount, 0)).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('pings after heartbeat silence', async () => {
    gateway = await startBrowserGateway({ listeners: [{ transport: 'webtransport' }], gateway: { heartbeat: { intervalMs: 300, timeoutMs: 2_000 } } });
    const { page } = await openDemo(gateway, 'demo-e2e', 'tab-6', '&ping=0');
    await page.waitForFunction(() => (globalThis as unknown as { pushlabDemo: DemoHook }).pushlabDemo.rtts.length >= 2, undefined, { timeout: WAIT_MS });
    const rtts = await demoField(page, 'rtts');
    expect(rtts.every((sample) => sample.source === 'heartbeat')).toBe(true);
    expect(await demoField(page, 'state')).toBe('connected');
    await page.close();
  });

  it('stops when a newer page replaces the session', async () => {
    gateway = await startBrowserGateway({ listeners: [{ transport: 'webtransport' }] });
    const first = await openDemo(gateway, 'demo-e2e', 'shared', '&ping=0');
    const second = await openDemo(gateway, 'demo-e2e', 'shared', '&ping=0');
    await first.page.waitForFunction(() => (globalThis as unknown as { pushlabDemo: DemoHook }).pushlabDemo.state === 'closed', undefined, { timeout: WAIT_MS });
    expect(await demoField(first.page, 'closed')).toContain('SESSION_REPLACED');

    await gateway.publish({ userId: 'demo-e2e', deviceId: 'shared', payload: 'to the newer page' });
    expect((await waitForMessages(second.page, 1))[0]!.text).toBe('to the newer page');
    expect(await demoField(second.page, 'state')).toBe('connected');
    await first.page.close();
    await second.page.close();
  });

  it('stops on a rejected token', async () => {
    gateway = await startBrowserGateway({ listeners: [{ transport: 'webtransport' }] });
    const { page } = await openDemo(gateway, 'demo-e2e', 'tab-7', '&ping=0');
    const closed = await page.evaluate(
      () =>
        new Promise<string>((resolve) => {
          const page = globalThis as unknown as { pushlabDemo: DemoHook; location: { origin: string } };
          const client = page.pushlabDemo.pushlab.connectPush({ gatewayHttpUrl: page.location.origin, userId: 'demo-e2e', deviceId: 'tab-8', token: 'not-a-token', transports: ['webtransport'] });
          client.on('closed', (error) => resolve(error.message));
        }),
    );
    expect(closed).toContain('AUTH_FAILED');
    expect(await eventually(() => gateway!.metric('pushlab_handshakes_total', { transport: 'webtransport', outcome: 'auth_failed' }), 1)).toBe(1);
    await page.close();
  });
});
