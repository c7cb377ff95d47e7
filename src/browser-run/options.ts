// Flags of the browser runner and their limits. The limits keep a run bounded in time and memory,
// because each page is a Chromium renderer process of its own.
import { parseArgs } from 'node:util';
import { formatHelp, type FlagSpec } from '../cli/args.js';
import { ConfigError } from '../errors.js';
import { parseCount, parseDuration } from '../config/values.js';

export interface BrowserRunOptions {
  pages: number;
  messages: number;
  /** Publishes per second across all pages. */
  ratePerSecond: number;
  /** Bound on the whole run: connect, publish and delivery, in ms. */
  timeoutMs: number;
  /** Base URL of a gateway on this machine started with --demo. Undefined means the runner starts one in its own process. */
  gatewayUrl: string | undefined;
  json: boolean;
}

export const BROWSER_RUN_FLAGS: readonly FlagSpec[] = [
  { name: 'pages', type: 'string', value: 'N', help: 'Headless Chromium pages, each its own demo user (1 to 50). Default: 10.' },
  { name: 'messages', type: 'string', value: 'N', help: 'Messages published in total, spread round-robin over the pages (1 to 100000). Default: 200.' },
  { name: 'rate', type: 'string', value: 'N', help: 'Publishes per second across all pages (1 to 10000). Default: 100.' },
  { name: 'timeout', type: 'string', value: 'DURATION', help: 'Bound on the whole run (1s to 10m). Default: 60s.' },
  {
    name: 'gateway',
    type: 'string',
    value: 'URL',
    help: 'HTTP API of a gateway on this machine started with --demo and a webtransport listener, e.g. http://localhost:8080. Default: start one in this process on 127.0.0.1.',
  },
  { name: 'json', type: 'boolean', help: 'Print the report as one JSON object instead of text.' },
];

export const BROWSER_RUN_HELP = formatHelp(
  'node --import tsx src/browser-run/main.ts [--pages N] [--messages N] [--rate N] [--timeout DURATION] [--gateway URL]',
  'Opens N headless Chromium pages on the gateway\'s demo page, publishes messages to them through the HTTP API and reports the delivery latency (page receive time minus the gateway\'s publishedAtMs).',
  BROWSER_RUN_FLAGS,
  'Environment: PUSHLAB_CHROMIUM (Chromium binary; default /usr/bin/chromium).',
);

function bounded(value: string | boolean | undefined, flag: string, fallback: number, min: number, max: number, parse: (text: string, field: string) => number): number {
  if (typeof value !== 'string') return fallback;
  const parsed = parse(value, flag);
  if (parsed < min || parsed > max) throw new ConfigError(`${flag}: expected ${min} to ${max}, got ${parsed}`);
  return parsed;
}

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]']);

/**
 * Accepts http(s) URLs on this machine only (localhost, 127.0.0.0/8, ::1), because the runner is
 * a measurement tool and sends its load to loopback only.
 */
function checkGatewayUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`--gateway: expected a URL such as http://localhost:8080, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`--gateway: expected an http:// or https:// URL, got ${JSON.stringify(text)}`);
  if (!LOOPBACK_HOSTS.has(url.hostname) && !/^127\.\d+\.\d+\.\d+$/.test(url.hostname)) {
    throw new ConfigError(`--gateway: the runner only drives gateways on this machine (localhost, 127.0.0.0/8 or [::1]), got host ${url.hostname}`);
  }
  return url.origin;
}

/** Parses the runner's argv; returns 'help' for --help. Throws ConfigError on invalid flags. */
export function parseBrowserRunArgs(argv: string[]): BrowserRunOptions | 'help' {
  let flags: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries([...BROWSER_RUN_FLAGS.map((flag) => [flag.name, { type: flag.type }]), ['help', { type: 'boolean' }]]);
    flags = parseArgs({ args: argv, options, strict: true, allowPositionals: false, allowNegative: true }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    throw new ConfigError(`${(error as Error).message.split('\n')[0]}; run with --help for the accepted options`, { cause: error });
  }
  if (flags.help === true) return 'help';
  const gateway = typeof flags.gateway === 'string' ? checkGatewayUrl(flags.gateway) : undefined;
  return {
    pages: bounded(flags.pages, '--pages', 10, 1, 50, parseCount),
    messages: bounded(flags.messages, '--messages', 200, 1, 100_000, parseCount),
    ratePerSecond: bounded(flags.rate, '--rate', 100, 1, 10_000, parseCount),
    timeoutMs: bounded(flags.timeout, '--timeout', 60_000, 1_000, 600_000, parseDuration),
    gatewayUrl: gateway,
    json: flags.json === true,
  };
}
