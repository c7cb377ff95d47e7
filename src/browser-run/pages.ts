// The runner's pages: one browser context per page (so each has its own storage and connection),
// each on the demo page as its own demo user, and the read-out of what each page received.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { TransportError } from '../errors.js';

export interface RunPage {
  userId: string;
  deviceId: string;
  context: BrowserContext;
  page: Page;
}

export interface PageReceipt {
  text: string;
  publishedAtMs: number;
  receivedAtMs: number;
}

export interface PageReport {
  userId: string;
  transport: string | null;
  receipts: PageReceipt[];
  duplicates: number;
  datagrams: number;
  fallbacks: string[];
}

/** The part of window.pushlabDemo (web/demo.js) the runner reads. */
interface DemoHook {
  state: string;
  transport: string | null;
  messages: PageReceipt[];
  fallbacks: { message: string }[];
  client: { stats: { duplicatesReceived: number; datagramsReceived: number } };
}

type DemoWindow = { pushlabDemo?: DemoHook };

export const DEVICE_ID = 'page';

export function runUserId(index: number): string {
  return `demo-run-${index + 1}`;
}

/** Opens `count` pages and waits until every one is connected, or throws after `timeoutMs`. */
export async function openPages(browser: Browser, httpUrl: string, count: number, timeoutMs: number): Promise<RunPage[]> {
  const pages: RunPage[] = [];
  for (let index = 0; index < count; index++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const userId = runUserId(index);
    pages.push({ userId, deviceId: DEVICE_ID, context, page });
    // Without RTT probes a page sends only acks and idle heartbeats, so it adds no traffic of its own.
    await page.goto(`${httpUrl}/demo?user=${encodeURIComponent(userId)}&device=${DEVICE_ID}&ping=0`);
  }
  const deadline = Date.now() + timeoutMs;
  for (const entry of pages) {
    const remaining = Math.max(1, deadline - Date.now());
    try {
      await entry.page.waitForFunction(() => (globalThis as unknown as DemoWindow).pushlabDemo?.state === 'connected', undefined, { timeout: remaining });
    } catch (error) {
      const report = await readPage(entry);
      throw new TransportError('CONNECT_TIMEOUT', `page of ${entry.userId} did not connect within ${timeoutMs} ms; fallbacks: ${report.fallbacks.join(' | ') || 'none'}`, { cause: error });
    }
  }
  return pages;
}

/** Waits until `entry` received `expected` messages or `deadline` (epoch ms) passes; returns whether it did. */
export async function waitForReceipts(entry: RunPage, expected: number, deadline: number): Promise<boolean> {
  try {
    await entry.page.waitForFunction((count) => ((globalThis as unknown as DemoWindow).pushlabDemo?.messages.length ?? 0) >= count, expected, {
      timeout: Math.max(1, deadline - Date.now()),
      polling: 50,
    });
    return true;
  } catch {
    return false;
  }
}

export async function readPage(entry: RunPage): Promise<PageReport> {
  const data = await entry.page.evaluate(() => {
    const demo = (globalThis as unknown as DemoWindow).pushlabDemo;
    if (!demo) return null;
    return {
      transport: demo.transport,
      receipts: demo.messages.map(({ text, publishedAtMs, receivedAtMs }) => ({ text, publishedAtMs, receivedAtMs })),
      duplicates: demo.client.stats.duplicatesReceived,
      datagrams: demo.client.stats.datagramsReceived,
      fallbacks: demo.fallbacks.map((fallback) => fallback.message),
    };
  });
  return { userId: entry.userId, ...(data ?? { transport: null, receipts: [], duplicates: 0, datagrams: 0, fallbacks: ['the demo page did not load'] }) };
}

export async function closePages(pages: RunPage[]): Promise<void> {
  await Promise.all(pages.map((entry) => entry.context.close().catch(() => undefined)));
}
