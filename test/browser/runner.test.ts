import { describe, expect, it } from 'vitest';
import { formatReport, runBrowserExperiment } from '../../src/browser-run/main.js';
import { parseBrowserRunArgs } from '../../src/browser-run/options.js';
import { ConfigError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';

describe('browser runner options', () => {
  it('applies the defaults', () => {
    expect(parseBrowserRunArgs([])).toEqual({ pages: 10, messages: 200, ratePerSecond: 100, timeoutMs: 60_000, gatewayUrl: undefined, json: false });
  });

  it('reads every flag', () => {
    const options = parseBrowserRunArgs(['--pages', '3', '--messages', '50', '--rate', '20', '--timeout', '30s', '--gateway', 'http://localhost:8080/', '--json']);
    expect(options).toEqual({ pages: 3, messages: 50, ratePerSecond: 20, timeoutMs: 30_000, gatewayUrl: 'http://localhost:8080', json: true });
  });

  it('returns help for --help', () => {
    expect(parseBrowserRunArgs(['--help'])).toBe('help');
  });

  it.each([
    ['too many pages', ['--pages', '51']],
    ['zero messages', ['--messages', '0']],
    ['a timeout without unit', ['--timeout', '30']],
    ['a remote gateway', ['--gateway', 'http://192.0.2.1:8080']],
    ['a gateway that is not a URL', ['--gateway', 'localhost:8080']],
    ['an unknown flag', ['--frobnicate']],
  ])('rejects %s', (_name, argv) => {
    expect(() => parseBrowserRunArgs(argv)).toThrow(ConfigError);
  });

  it('accepts loopback gateways', () => {
    for (const url of ['http://127.0.0.2:8080', 'https://[::1]:8443', 'http://localhost']) {
      expect(parseBrowserRunArgs(['--gateway', url])).toMatchObject({ gatewayUrl: new URL(url).origin });
    }
  });
});

describe('browser runner', () => {
  it('measures delivery to two pages', async () => {
    const report = await runBrowserExperiment({ pages: 2, messages: 20, ratePerSecond: 200, timeoutMs: 40_000, gatewayUrl: undefined, json: false }, silentLogger());
    expect(report.pages).toBe(2);
    expect(report.transports).toEqual({ webtransport: 2 });
    expect(report.published).toBe(20);
    expect(report.delivered).toBe(20);
    expect(report.missing).toBe(0);
    expect(report.duplicates).toBe(0);
    expect(report.latencyMs?.count).toBe(20);
    expect(report.latencyMs!.p50).toBeGreaterThanOrEqual(0);
    expect(report.latencyMs!.p99).toBeGreaterThanOrEqual(report.latencyMs!.p50);
    expect(formatReport(report)).toMatch(/latency ms {3}p50 \d+ {2}p95 \d+ {2}p99 \d+/);
  });
});
