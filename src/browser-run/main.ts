// The browser runner: N headless Chromium pages on the gateway's demo page, a paced publish
// workload through the HTTP API, and the delivery latency each page measured.
//
//   node --import tsx src/browser-run/main.ts --pages 10 --messages 200
//
// Latency is the page's receive time minus the gateway's publishedAtMs. Both are wall-clock
// readings of the same machine, so the figures include the HTTP API, the gateway's queues, the
// WebTransport path and the page's decoding, but no clock offset.
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import type { Browser } from 'playwright-core';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../cli/args.js';
import { PushlabError, toError } from '../errors.js';
import { summarize, type Summary } from '../experiment/stats.js';
import type { Logger } from '../logger.js';
import { launchChromium } from './chromium.js';
import { startLocalGateway, type LocalGateway } from './local-gateway.js';
import { BROWSER_RUN_HELP, parseBrowserRunArgs, type BrowserRunOptions } from './options.js';
import { closePages, openPages, readPage, waitForReceipts, type PageReport, type RunPage } from './pages.js';
import { runWorkload, type WorkloadResult } from './workload.js';

export interface BrowserRunReport {
  pages: number;
  transports: Record<string, number>;
  published: number;
  publishFailures: number;
  delivered: number;
  missing: number;
  duplicates: number;
  datagrams: number;
  /** Delivery latency in ms, or null when nothing arrived. */
  latencyMs: Summary | null;
  durationMs: number;
  errors: string[];
}

export async function runBrowserExperiment(options: BrowserRunOptions, logger: Logger): Promise<BrowserRunReport> {
  const startedAt = Date.now();
  const deadline = startedAt + options.timeoutMs;
  let local: LocalGateway | undefined;
  let browser: Browser | undefined;
  let pages: RunPage[] = [];
  try {
    if (options.gatewayUrl === undefined) local = await startLocalGateway(logger);
    const pageUrl = local?.pageUrl ?? options.gatewayUrl!;
    const apiUrl = local?.apiUrl ?? options.gatewayUrl!;
    browser = await launchChromium();
    logger.info({ pages: options.pages, pageUrl }, 'opening pages');
    pages = await openPages(browser, pageUrl, options.pages, Math.max(1, deadline - Date.now()));

    logger.info({ messages: options.messages, ratePerSecond: options.ratePerSecond }, 'publishing');
    const workload = await runWorkload(apiUrl, pages, options.messages, options.ratePerSecond, deadline);
    for (const entry of pages) await waitForReceipts(entry, workload.expected.get(entry.userId) ?? 0, deadline);
    const reports = await Promise.all(pages.map((entry) => readPage(entry)));
    return buildReport(reports, workload, Date.now() - startedAt);
  } finally {
    await closePages(pages);
    await browser?.close().catch((error: unknown) => logger.warn({ err: toError(error) }, 'closing Chromium failed'));
    await local?.close().catch((error: unknown) => logger.warn({ err: toError(error) }, 'closing the local gateway failed'));
  }
}

function buildReport(reports: PageReport[], workload: WorkloadResult, durationMs: number): BrowserRunReport {
  const latencies: number[] = [];
  const transports: Record<string, number> = {};
  let duplicates = 0;
  let datagrams = 0;
  for (const report of reports) {
    const transport = report.transport ?? 'none';
    transports[transport] = (transports[transport] ?? 0) + 1;
    duplicates += report.duplicates;
    datagrams += report.datagrams;
    for (const receipt of report.receipts) latencies.push(receipt.receivedAtMs - receipt.publishedAtMs);
  }
  return {
    pages: reports.length,
    transports,
    published: workload.published,
    publishFailures: workload.failed,
    delivered: latencies.length,
    missing: Math.max(0, workload.published - latencies.length),
    duplicates,
    datagrams,
    latencyMs: summarize(latencies),
    durationMs,
    errors: workload.errors,
  };
}

export function formatReport(report: BrowserRunReport): string {
  const latency = report.latencyMs;
  const lines = [
    `pages        ${report.pages} (${Object.entries(report.transports).map(([name, count]) => `${count} on ${name}`).join(', ')})`,
    `published    ${report.published}${report.publishFailures > 0 ? `, ${report.publishFailures} failed` : ''}`,
    `delivered    ${report.delivered}, missing ${report.missing}, duplicates ${report.duplicates}, datagrams ${report.datagrams}`,
    latency
      ? `latency ms   p50 ${latency.p50}  p95 ${latency.p95}  p99 ${latency.p99}  max ${latency.max}  mean ${latency.mean.toFixed(1)}  (n=${latency.count})`
      : 'latency ms   no message arrived',
    `duration     ${(report.durationMs / 1000).toFixed(1)} s`,
    ...report.errors.map((error) => `error        ${error}`),
  ];
  return `${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  let options: BrowserRunOptions | 'help';
  try {
    options = parseBrowserRunArgs(argv);
  } catch (error) {
    process.stderr.write(`browser-run: ${toError(error).message}\n`);
    return EXIT_USAGE;
  }
  if (options === 'help') {
    process.stdout.write(BROWSER_RUN_HELP);
    return EXIT_OK;
  }
  const logger: Logger = pino({ level: process.env.PUSHLAB_LOG_LEVEL ?? 'warn', name: 'browser-run' }, pino.destination({ fd: 2, sync: true }));
  try {
    const report = await runBrowserExperiment(options, logger);
    process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : formatReport(report));
    return report.missing === 0 && report.publishFailures === 0 ? EXIT_OK : EXIT_FAILURE;
  } catch (error) {
    const failure = toError(error);
    logger.error({ err: failure }, 'browser run failed');
    process.stderr.write(`browser-run: ${failure.message}\n`);
    return error instanceof PushlabError && error.code === 'CONFIG_INVALID' ? EXIT_USAGE : EXIT_FAILURE;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
