// pushlab's browser client. Bundled by scripts/build-browser.mjs into one ES module that the
// gateway serves at /browser/pushlab-client.js; see docs/BROWSER.md.
//
//   import { connectPush } from '/browser/pushlab-client.js';
//   const client = connectPush({ gatewayHttpUrl: location.origin, userId, deviceId, token });
//   client.on('message', (message) => show(message.payload));
import { BrowserPushClient } from './push-client.js';
import type { ConnectPushOptions } from './options.js';

export { BrowserPushClient } from './push-client.js';
export { BROWSER_CLIENT_DEFAULTS, type ConnectPushOptions } from './options.js';
export { BROWSER_LINKS, DEFAULT_LADDER } from './links/index.js';
export type { Link, LinkContext, LinkHandler, LinkOpener, WebTransportSettings } from './links/link.js';
export { CERT_HASHES_PATH, parseEndpointDocument, type PinnedHash, type WebTransportEndpoint } from './links/webtransport-endpoint.js';
export { consoleLogger, silentBrowserLogger, type BrowserLogger, type BrowserLogLevel } from './logger.js';
export { memoryResumeStore, webStorageResumeStore, type ResumePosition, type ResumeStore } from './resume-store.js';
export { EndpointDiscoveryError, NotConnectedError, TransportSkippedError, type SkipReason } from './errors.js';
export type { BrowserClientEvents, BrowserClientState, BrowserClientStats, FallbackEvent, ReceivedPush, RttSample } from './state.js';
export { CloseCode, Platform } from '../codec/proto.js';
export { ConnectionClosedError, PushlabError } from '../errors.js';

/**
 * Creates a client and starts connecting after the current task, so listeners added right after
 * this call see every event, the first state change included.
 */
export function connectPush(options: ConnectPushOptions): BrowserPushClient {
  const client = new BrowserPushClient(options);
  queueMicrotask(() => client.start());
  return client;
}
