// One WebTransport stream of a session: a QUIC stream whose WebTransport prefix (0x41 or 0x54 and
// the session id, draft-ietf-webtrans-http3-02 "Bidirectional Streams" and "Unidirectional
// Streams") has been written or parsed already, so reads and writes carry application bytes only.
import type { QUICStream } from '@matrixai/quic';
import { StreamAbort, webTransportCodeToHttp3 } from './errors.js';
import type { StreamSource } from './stream-source.js';

export class WebTransportStream {
  readonly streamId: number;
  readonly direction: 'bidi' | 'uni';
  readonly initiator: 'local' | 'peer';
  private readonly writer: WritableStreamDefaultWriter<Uint8Array> | null;
  private ended = false;

  constructor(
    stream: QUICStream,
    /** The reading side; null for a unidirectional stream we opened. */
    private readonly source: StreamSource | null,
    initiator: 'local' | 'peer',
    prefix?: Uint8Array,
  ) {
    this.streamId = stream.streamId;
    this.direction = (stream.streamId & 0x2) === 0 ? 'bidi' : 'uni';
    this.initiator = initiator;
    const writable = !(this.direction === 'uni' && initiator === 'peer');
    this.writer = writable ? stream.writable.getWriter() : null;
    // The prefix goes first; later writes queue behind it in the web stream.
    if (prefix !== undefined && this.writer !== null) this.writer.write(prefix).catch(() => {});
  }

  get readable(): boolean {
    return this.source !== null;
  }

  get writable(): boolean {
    return this.writer !== null && !this.ended;
  }

  /** Returns the next chunk, or null at the peer's FIN. Rejects with StreamResetError on a reset. */
  read(): Promise<Uint8Array | null> {
    if (this.source === null) return Promise.resolve(null);
    return this.source.read();
  }

  /**
   * Queues `bytes`; the promise settles once quiche has taken them into the stream's send buffer,
   * which the peer's flow-control window bounds.
   */
  write(bytes: Uint8Array): Promise<void> {
    if (this.writer === null || this.ended) return Promise.reject(new Error(`stream ${this.streamId} is not writable`));
    return this.writer.write(bytes);
  }

  /** Sends FIN after everything queued. */
  finish(): Promise<void> {
    if (this.writer === null || this.ended) return Promise.resolve();
    this.ended = true;
    return this.writer.close();
  }

  /** Resets the sending side and stops the receiving side with WebTransport application error `code`. */
  reset(code = 0): void {
    this.ended = true;
    const reason = new StreamAbort(webTransportCodeToHttp3(code), `WebTransport stream ${this.streamId} reset with code ${code}`);
    this.source?.cancel(reason);
    this.writer?.abort(reason).catch(() => {});
  }
}
