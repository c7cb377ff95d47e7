// Client side of an HTTP/3 connection: waits for the server's SETTINGS, sends the extended CONNECT
// and turns a 2xx response into a WebTransport session.
import type { QUICStream } from '@matrixai/quic';
import { TransportError } from '../../src/errors.js';
import { DRAFT02_RESPONSE_FIELD, validateResponse, webTransportConnectFields } from './h3/connect-request.js';
import { H3Error, H3ErrorCode } from './h3/errors.js';
import { encodeHeadersFrame } from './h3/frames.js';
import { decodeFieldSection, encodeFieldSection } from './h3/qpack.js';
import { SettingId, webTransportSupport } from './h3/settings.js';
import { ConnectStreamReader } from './connect-stream.js';
import { SessionRejectedError, StreamAbort } from './errors.js';
import { Http3Connection, type Http3ConnectionOptions } from './h3-connection.js';
import { WebTransportSession } from './session.js';
import { StreamSource } from './stream-source.js';
import { withTimeout } from './timeout.js';

/**
 * Returns the client's SETTINGS: the ones Chromium 156 sends for WebTransport (draft-02's
 * ENABLE_WEBTRANSPORT and both datagram settings), plus a QPACK dynamic table of capacity 0.
 */
export function clientSettings(): Map<bigint, bigint> {
  return new Map([
    [SettingId.QPACK_MAX_TABLE_CAPACITY, 0n],
    [SettingId.QPACK_BLOCKED_STREAMS, 0n],
    [SettingId.ENABLE_WEBTRANSPORT_DRAFT02, 1n],
    [SettingId.H3_DATAGRAM, 1n],
    [SettingId.H3_DATAGRAM_DRAFT04, 1n],
  ]);
}

export interface OpenSessionOptions {
  /** :authority, host and port of the server. */
  authority: string;
  path: string;
  origin: string;
}

export class Http3ClientConnection extends Http3Connection {
  constructor(options: Omit<Http3ConnectionOptions, 'role' | 'localSettings'>) {
    super({ ...options, role: 'client', localSettings: clientSettings() });
  }

  /**
   * Opens a session. The returned session has not started reading its CONNECT stream: attach
   * listeners, then call start(). Rejects with SessionRejectedError on a non-2xx response and with
   * TransportError when the server lacks WebTransport or does not respond in time.
   */
  async openSession(options: OpenSessionOptions): Promise<WebTransportSession> {
    if (this.goawayReceived !== null) throw new TransportError('TRANSPORT_FAILED', 'the server sent GOAWAY; open a new connection');
    const timeoutMs = this.settings.handshakeTimeoutMs;
    // A client must not send a WebTransport request before the server's SETTINGS announce support.
    const peerSettings = await withTimeout(this.peerSettings(), timeoutMs, "the server's SETTINGS");
    const support = webTransportSupport(peerSettings);
    if (!support.supported) throw new TransportError('TRANSPORT_FAILED', `the server does not offer WebTransport: its SETTINGS lack ${support.missing.join(' and ')}`);

    const stream = this.openStream('bidi');
    const writer = stream.writable.getWriter();
    const source = new StreamSource(stream);
    const fields = webTransportConnectFields({ authority: options.authority, path: options.path, origin: options.origin });
    writer.write(encodeHeadersFrame(encodeFieldSection(fields))).catch(() => {});

    const reader = new ConnectStreamReader({ maxFieldSectionSize: this.settings.maxFieldSectionSize });
    let status: number;
    let draftField: string | undefined;
    try {
      ({ status, draftField } = await withTimeout(this.readFinalResponse(reader, source), timeoutMs, 'the CONNECT response'));
    } catch (error) {
      if (error instanceof H3Error) this.fail(error);
      abandon(stream, source);
      throw error;
    }
    if (status < 200 || status > 299) {
      abandon(stream, source);
      throw new SessionRejectedError(status, describeStatus(status, options.path));
    }
    if (draftField !== undefined && draftField !== 'draft02') this.logger.debug({ draftField }, 'server responded with an unexpected WebTransport draft version');

    const session = new WebTransportSession({ owner: this, connectStream: stream, source, reader, writer, initialEvents: reader.takeQueued(), request: null, logger: this.logger });
    this.registerSession(session);
    this.releasePendingStreams(session);
    return session;
  }

  protected onRequestStream(stream: QUICStream): void {
    // Unreachable: the base class refuses server-initiated bidirectional streams that are not
    // WebTransport streams before they get here.
    stream.cancel(new StreamAbort(H3ErrorCode.H3_STREAM_CREATION_ERROR, 'unexpected request stream'));
  }

  /** Reads responses until a final one (status 200 or above; 1xx are interim, RFC 9114 section 4.1). */
  private async readFinalResponse(reader: ConnectStreamReader, source: StreamSource): Promise<{ status: number; draftField: string | undefined }> {
    for (;;) {
      const fieldSection = await reader.nextHeaders(source);
      if (fieldSection === null) throw new TransportError('TRANSPORT_FAILED', 'the server ended the CONNECT stream without a response');
      const response = validateResponse(decodeFieldSection(fieldSection, { maxFieldSectionSize: this.settings.maxFieldSectionSize }));
      if (response instanceof H3Error) throw response;
      if (response.status >= 200) return { status: response.status, draftField: response.headers.find((field) => field.name === DRAFT02_RESPONSE_FIELD)?.value };
    }
  }
}

function abandon(stream: QUICStream, source: StreamSource): void {
  const abort = new StreamAbort(H3ErrorCode.H3_REQUEST_CANCELLED, 'CONNECT request abandoned');
  source.cancel(abort);
  stream.cancel(abort);
}

function describeStatus(status: number, path: string): string {
  switch (status) {
    case 403:
      return 'the origin is not allowed (see the listener setting allowedOrigins)';
    case 404:
      return `no WebTransport endpoint at ${path} (see the listener setting path)`;
    case 429:
      return 'too many sessions on this connection';
    default:
      return 'the server refused the session';
  }
}
