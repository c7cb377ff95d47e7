// `pushlab gateway --demo`: the CLI wires the browser routes into its HTTP API, only the flag
// turns the token endpoint on, and a page reaches the CLI's webtransport listener.
import { describe, expect, it } from 'vitest';
import { launchChromium } from './chromium.js';
import type { CliIo } from '../../src/cli/args.js';
import type { ReadyLine } from '../../src/cli/gateway-command.js';
import { runCli } from '../../src/cli/main.js';

const READY_TIMEOUT_MS = 20_000;

interface RunningGateway {
  ready: ReadyLine;
  url(path: string): string;
  /** Stops the gateway and resolves with its exit status. */
  stop(): Promise<number>;
}

/** Runs `pushlab gateway` in this process and waits for its ready line. */
async function startCli(extraFlags: string[], listen = 'tcp=127.0.0.1:0'): Promise<RunningGateway> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) }, env: {} };
  let signalStop!: (signal: string) => void;
  const stopped = new Promise<string>((resolve) => (signalStop = resolve));
  const status = runCli(['gateway', '--listen', listen, '--http', '127.0.0.1:0', '--log-level', 'error', ...extraFlags], io, () => stopped);

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!stdout.includes('\n')) {
    if (Date.now() > deadline) throw new Error(`no ready line within ${READY_TIMEOUT_MS} ms; stderr:\n${stderr}`);
    const exited = await Promise.race([status.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 20))]);
    if (exited) throw new Error(`gateway exited before its ready line; stderr:\n${stderr}`);
  }
  const ready = JSON.parse(stdout.slice(0, stdout.indexOf('\n'))) as ReadyLine;
  return {
    ready,
    url: (path) => `http://127.0.0.1:${ready.http.port}${path}`,
    stop: () => {
      signalStop('SIGTERM');
      return status;
    },
  };
}

function requestToken(url: string): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: 'demo-cli', deviceId: 'tab-1' }) });
}

describe('gateway command demo mode', () => {
  it('serves the demo page and tokens with --demo', async () => {
    const gateway = await startCli(['--demo']);
    try {
      const root = await fetch(gateway.url('/'), { redirect: 'manual' });
      expect(root.status).toBe(302);
      expect((await fetch(gateway.url('/demo'))).status).toBe(200);

      const token = await requestToken(gateway.url('/demo/token'));
      expect(token.status).toBe(200);
      expect(((await token.json()) as { userId: string }).userId).toBe('demo-cli');

      // Only tcp listens here, so there is no WebTransport endpoint to describe.
      expect((await fetch(gateway.url('/webtransport/cert-hashes'))).status).toBe(404);
    } finally {
      expect(await gateway.stop()).toBe(0);
    }
  });

  it('has no token endpoint by default', async () => {
    const gateway = await startCli([]);
    try {
      expect((await requestToken(gateway.url('/demo/token'))).status).toBe(404);
      expect((await fetch(gateway.url('/demo'))).status).toBe(200);
    } finally {
      expect(await gateway.stop()).toBe(0);
    }
  });

  it('documents the flag in its help', async () => {
    let stdout = '';
    const io: CliIo = { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: () => true }, env: {} };
    expect(await runCli(['gateway', '--help'], io, () => new Promise<string>(() => undefined))).toBe(0);
    expect(stdout).toContain('--demo');
    expect(stdout).toMatch(/never\s+enable\s+it\s+in\s+production/);
  });

  it('connects a page over webtransport', async () => {
    const gateway = await startCli(['--demo'], 'webtransport=127.0.0.1:0');
    const browser = await launchChromium();
    try {
      const listener = gateway.ready.listeners[0]!;
      const document = (await (await fetch(gateway.url('/webtransport/cert-hashes'))).json()) as { url: string; hashes: unknown[] };
      expect(document.url).toBe(`https://127.0.0.1:${listener.port}/pushlab`);
      expect(document.hashes).toHaveLength(1);

      const page = await browser.newPage();
      await page.goto(`http://localhost:${gateway.ready.http.port}/demo?user=demo-cli&device=tab-2&ping=0`);
      await page.waitForFunction(() => (globalThis as unknown as { pushlabDemo?: { state: string } }).pushlabDemo?.state === 'connected', undefined, { timeout: 15_000 });
      const publish = await fetch(gateway.url('/v1/publish'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: 'demo-cli', payload: 'via the CLI' }) });
      expect(publish.status).toBe(200);
      await page.waitForFunction(() => (globalThis as unknown as { pushlabDemo: { messages: unknown[] } }).pushlabDemo.messages.length >= 1, undefined, { timeout: 15_000 });
      const texts = await page.evaluate(() => (globalThis as unknown as { pushlabDemo: { messages: { text: string }[] } }).pushlabDemo.messages.map((message) => message.text));
      expect(texts).toEqual(['via the CLI']);
    } finally {
      await browser.close();
      expect(await gateway.stop()).toBe(0);
    }
  });
});
