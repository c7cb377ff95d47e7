// The browser-side transport seam. A link is one open connection to the gateway that carries
// encoded pushlab frames both ways; the client never touches WebTransport (or a future fallback)
// directly, only this interface and the openers registered by name.
import type { BrowserLogger } from '../logger.js';

export type FrameChannel = 'stream' | 'datagram';

export interface LinkHandler {
  /** One complete frame body (an encoded Frame), from the reliable stream or a datagram. */
  onFrame(frame: Uint8Array, channel: FrameChannel): void;
  /** A framing failure (oversized or malformed length prefix); the client picks the close code. */
  onError(error: Error): void;
  /** Called once when the link ends for any reason; `error` is set when it failed. */
  onClose(info: { error?: Error }): void;
}

export interface Link {
  readonly transport: string;
  /** Where the link is connected, for display and logs. */
  readonly url: string;
  /** Sends one frame body reliably and in order; dropped after close. */
  send(frame: Uint8Array): void;
  /** Flushes what was sent, ends the stream and closes; resolves within `graceMs`. */
  close(graceMs: number): Promise<void>;
  /** Drops the link at once, without flushing. */
  destroy(): void;
}

/** Settings for the WebTransport link that override what the gateway publishes. */
export interface WebTransportSettings {
  /** Session URL; default the `url` in the gateway's certificate-hash document. */
  url?: string;
  /**
   * Pinned certificate hashes (SHA-256 over the DER bytes; bytes or base64). When given, the client
   * does not fetch the gateway's list, so a page can stay pinned to one certificate.
   */
  serverCertificateHashes?: { algorithm: 'sha-256'; value: Uint8Array | string }[];
}

export interface LinkContext {
  /** Base URL of the gateway's HTTP API, e.g. http://localhost:8080. */
  gatewayHttpUrl: string;
  maxFrameSize: number;
  /** Aborted when the client abandons the attempt (timeout, close). */
  signal: AbortSignal;
  handler: LinkHandler;
  logger: BrowserLogger;
  fetch: typeof fetch;
  webTransport: WebTransportSettings;
}

/** Opens a link or throws: TransportSkippedError when the transport cannot be tried at all. */
export type LinkOpener = (context: LinkContext) => Promise<Link>;
