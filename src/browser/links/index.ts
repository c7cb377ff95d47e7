// The transports a browser can use, by name. The fallback order is data (a list of these names),
// so a page reorders or trims the ladder without touching the client.
import { openHttpPollingLink } from './http-polling-link.js';
import type { LinkOpener } from './link.js';
import { openWebTransportLink } from './webtransport-link.js';

export const BROWSER_LINKS: Readonly<Record<string, LinkOpener>> = {
  webtransport: openWebTransportLink,
  'http-polling': openHttpPollingLink,
};

/** Preferred first: WebTransport, then HTTP long-polling. */
export const DEFAULT_LADDER: readonly string[] = ['webtransport', 'http-polling'];
