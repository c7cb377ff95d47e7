// The WebTransport link: one session to the gateway, one bidirectional stream carrying
// varint-length-prefixed frames both ways (the TCP framing), and the session's datagrams, each of
// which carries a single frame without a prefix. W3C WebTransport, "WebTransport Interface";
// the server side speaks WebTransport over HTTP/3 (draft-ietf-webtrans-http3).
import { encodeVarint } from '../../codec/varint.js';
import { StreamFrameDecoder } from '../../codec/stream-decoder.js';
import { TransportError } from '../../errors.js';
import { TransportSkippedError } from '../errors.js';
import type { FrameChannel, Link, LinkContext, LinkHandler } from './link.js';
import { resolveWebTransportEndpoint, type PinnedHash } from './webtransport-endpoint.js';

// The parts of the browser's WebTransport API this link uses. They are declared here instead of
// through the DOM library, so the client typechecks in the project's Node configuration too.
interface WebTransportCloseInfo {
  closeCode?: number;
  reason?: string;
}

interface BidirectionalStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

interface WebTransportSession {
  readonly ready: Promise<void>;
  readonly closed: Promise<WebTransportCloseInfo>;
  readonly datagrams: { readonly readable: ReadableStream<Uint8Array> };
  createBidirectionalStream(): Promise<BidirectionalStream>;
  close(info?: WebTransportCloseInfo): void;
}

type WebTransportConstructor = new (url: string, options?: { serverCertificateHashes?: PinnedHash[] }) => WebTransportSession;

const TRANSPORT = 'webtransport';

/** WebTransport session close codes, the same on both ends (docs/WEBTRANSPORT.md, "Close"). */
const SESSION_CLOSE = { ORDERLY: 0, DESTROYED: 1, STREAM_FAILED: 3 } as const;

/** How long to wait for the gateway to close the session after it ended the stream first. */
const PEER_CLOSE_GRACE_MS = 2_000;

/** Opens the session and its stream. Throws TransportSkippedError when this browser has no WebTransport. */
export async function openWebTransportLink(context: LinkContext): Promise<Link> {
  const WebTransportClass = (globalThis as { WebTransport?: WebTransportConstructor }).WebTransport;
  if (typeof WebTransportClass !== 'function') {
    const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext;
    const why = secure === false ? 'this page is not a secure context (serve it over https or from localhost)' : 'this browser has no WebTransport API';
    throw new TransportSkippedError(TRANSPORT, 'unsupported', why);
  }

  const endpoint = await resolveWebTransportEndpoint(context);
  context.logger.debug({ url: endpoint.url, pins: endpoint.hashes.length }, 'opening WebTransport session');
  const session = new WebTransportClass(endpoint.url, { serverCertificateHashes: endpoint.hashes });
  // `closed` rejects when the session fails; without a handler that would be an unhandled rejection.
  session.closed.catch(() => undefined);
  const abandon = (): void => session.close({ closeCode: SESSION_CLOSE.DESTROYED, reason: 'attempt abandoned' });
  context.signal.addEventListener('abort', abandon, { once: true });

  try {
    await session.ready;
    const stream = await session.createBidirectionalStream();
    return new WebTransportLink(session, stream, endpoint.url, context);
  } catch (error) {
    session.close({ closeCode: SESSION_CLOSE.DESTROYED, reason: 'setup failed' });
    // Chromium hides the cause of a failed handshake (certificate, port, ALPN) from pages on purpose,
    // so the message can only name the URL and the pins that were tried.
    throw new TransportError('TRANSPORT_FAILED', `WebTransport session to ${endpoint.url} failed (${(error as Error).message}); pinned ${endpoint.hashes.length} certificate hash(es)`, { cause: error });
  } finally {
    context.signal.removeEventListener('abort', abandon);
  }
}

class WebTransportLink implements Link {
  readonly transport = TRANSPORT;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private readonly handler: LinkHandler;
  /** Resolves when the gateway ended its side of the stream (or the stream failed). */
  private readonly streamEnded: Promise<void>;
  private ended = false;
  private closing = false;

  constructor(
    private readonly session: WebTransportSession,
    stream: BidirectionalStream,
    readonly url: string,
    context: LinkContext,
  ) {
    this.handler = context.handler;
    this.writer = stream.writable.getWriter();
    this.streamEnded = this.readStream(stream.readable, new StreamFrameDecoder(context.maxFrameSize));
    void this.readDatagrams(session.datagrams.readable);
    session.closed.then(
      () => this.finish({}),
      (error: unknown) => this.finish({ error: asError(error, 'WebTransport session failed') }),
    );
  }

  send(frame: Uint8Array): void {
    if (this.ended || this.closing) return;
    const prefix = encodeVarint(frame.length);
    const bytes = new Uint8Array(prefix.length + frame.length);
    bytes.set(prefix, 0);
    bytes.set(frame, prefix.length);
    this.writer.write(bytes).catch((error: unknown) => this.fail(asError(error, 'stream write failed')));
  }

  /**
   * Closes in the orderly way docs/WEBTRANSPORT.md describes: ends our side of the stream after
   * the frames already written, waits for the gateway to end its side, then closes the session.
   */
  async close(graceMs: number): Promise<void> {
    if (this.ended || this.closing) return;
    this.closing = true;
    this.writer.close().catch(() => undefined);
    await withTimeout(this.streamEnded, graceMs);
    this.session.close({ closeCode: SESSION_CLOSE.ORDERLY, reason: '' });
    this.finish({});
  }

  destroy(): void {
    if (this.ended) return;
    this.session.close({ closeCode: SESSION_CLOSE.DESTROYED, reason: 'client dropped the connection' });
    this.finish({});
  }

  private async readStream(readable: ReadableStream<Uint8Array>, decoder: StreamFrameDecoder): Promise<void> {
    const reader = readable.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        let frames: Uint8Array[];
        try {
          frames = decoder.push(value);
        } catch (error) {
          this.handler.onError(asError(error, 'undecodable stream data'));
          return;
        }
        for (const frame of frames) this.deliver(frame, 'stream');
      }
      // The gateway ended its side first, which is its own orderly close. End ours and let the
      // gateway close the session, unless it does not do so within the grace.
      if (!this.closing) {
        this.closing = true;
        this.writer.close().catch(() => undefined);
        await withTimeout(this.session.closed, PEER_CLOSE_GRACE_MS);
        this.session.close({ closeCode: SESSION_CLOSE.ORDERLY, reason: '' });
        this.finish({});
      }
    } catch (error) {
      this.fail(asError(error, 'stream read failed'));
    }
  }

  private async readDatagrams(readable: ReadableStream<Uint8Array>): Promise<void> {
    const reader = readable.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        this.deliver(value, 'datagram');
      }
    } catch {
      // The datagram stream errors when the session closes; the session's `closed` reports why.
    }
  }

  private deliver(frame: Uint8Array, channel: FrameChannel): void {
    if (!this.ended) this.handler.onFrame(frame, channel);
  }

  private fail(error: Error): void {
    if (this.ended) return;
    this.session.close({ closeCode: SESSION_CLOSE.STREAM_FAILED, reason: error.message.slice(0, 100) });
    this.finish({ error });
  }

  private finish(info: { error?: Error }): void {
    if (this.ended) return;
    this.ended = true;
    this.handler.onClose(info);
  }
}

function asError(value: unknown, fallback: string): Error {
  return value instanceof Error ? value : new Error(`${fallback}: ${String(value)}`);
}

/** Resolves when `promise` settles either way, or after `ms`, whichever comes first. */
function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}
