// Options of the browser client and their defaults.
import type { BackoffOptions } from '../client/backoff.js';
import type { Clock } from '../clock.js';
import type { Platform } from '../codec/proto.js';
import type { Random } from '../random.js';
import type { LinkOpener, WebTransportSettings } from './links/link.js';
import type { BrowserLogger } from './logger.js';
import type { ResumeStore } from './resume-store.js';

export interface ConnectPushOptions {
  /** Base URL of the gateway's HTTP API, e.g. location.origin when the gateway serves the page. */
  gatewayHttpUrl: string;
  userId: string;
  deviceId: string;
  /** The hello token, or a function that fetches a fresh one before each attempt. */
  token: string | (() => string | Promise<string>);
  /** Transport names in order of preference; default ['webtransport', 'http-polling']. */
  transports?: readonly string[];
  /** Default PLATFORM_WEB. */
  platform?: Platform;
  /** Largest frame accepted, in bytes; default 64 KiB. */
  maxFrameSize?: number;
  /** Time for one transport of one attempt (open plus welcome), in ms; default 10 s. */
  connectTimeoutMs?: number;
  backoff?: Partial<BackoffOptions>;
  /** Unacked publishes are sent again after this many ms; default 1 s. */
  publishRetryMs?: number;
  /** Time close() waits for the gateway to end its side of the link before dropping it, in ms; default 2 s. */
  closeGraceMs?: number;
  /**
   * Storage of the resume position. 'memory' (the default) survives reconnects, 'session-storage'
   * also survives a reload of the page, and a ResumeStore object replaces both.
   */
  resume?: 'memory' | 'session-storage' | ResumeStore;
  /** Overrides of the URL and pinned hashes the gateway publishes. */
  webTransport?: WebTransportSettings;
  /** Extra or replacement link openers by transport name. */
  links?: Readonly<Record<string, LinkOpener>>;
  clock?: Clock;
  /** Source of the back-off jitter; default a generator seeded from crypto.getRandomValues. */
  random?: Random;
  logger?: BrowserLogger;
  fetch?: typeof fetch;
}

export const BROWSER_CLIENT_DEFAULTS = {
  connectTimeoutMs: 10_000,
  publishRetryMs: 1_000,
  closeGraceMs: 2_000,
  /** Used when a welcome carries no heartbeat parameters; these match the gateway's defaults. */
  heartbeat: { intervalMs: 30_000, timeoutMs: 15_000 },
  /** An RTT probe without a pong within this time is rejected. */
  probeTimeoutMs: 5_000,
} as const;
