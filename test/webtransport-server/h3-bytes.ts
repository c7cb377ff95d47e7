// HTTP/3 byte sequences for the raw peer: a client control stream, CONNECT requests and response
// parsing, built from the project's codecs.
import { webTransportConnectFields, type ConnectRequestInit } from '../../transports/webtransport/h3/connect-request.js';
import { encodeHeadersFrame, encodeSettingsFrame } from '../../transports/webtransport/h3/frames.js';
import { decodeFieldSection, encodeFieldSection, type HeaderField } from '../../transports/webtransport/h3/qpack.js';
import { CHROMIUM_156_WEBTRANSPORT_SETTINGS, UniStreamType, encodeUniStreamType } from '../../transports/webtransport/h3/settings.js';
import { concatBytes } from '../../transports/webtransport/h3/varint.js';
import { ConnectStreamReader } from '../../transports/webtransport/connect-stream.js';
import { RawH3Peer } from './raw-h3-peer.js';

/** Returns the stream type and SETTINGS frame that open a client control stream. */
export function controlStream(settings: Iterable<readonly [bigint, bigint]> = CHROMIUM_156_WEBTRANSPORT_SETTINGS): Uint8Array {
  return concatBytes([encodeUniStreamType(UniStreamType.CONTROL), encodeSettingsFrame(settings)]);
}

/** Returns a HEADERS frame with a WebTransport CONNECT for `port`, with fields from `init` replaced. */
export function connectHeaders(port: number, init: Partial<ConnectRequestInit> = {}): Uint8Array {
  const fields = webTransportConnectFields({ authority: `127.0.0.1:${port}`, path: '/pushlab', origin: 'http://localhost:8080', ...init });
  return encodeHeadersFrame(encodeFieldSection(fields));
}

export function headersFrame(fields: HeaderField[]): Uint8Array {
  return encodeHeadersFrame(encodeFieldSection(fields));
}

/** Decodes the first HEADERS frame of a response stream; null while it is incomplete. */
export function parseResponse(bytes: Uint8Array): { status: number; fields: HeaderField[] } | null {
  const reader = new ConnectStreamReader({ maxFieldSectionSize: 16 * 1024 });
  const headers = reader.push(bytes).find((event) => event.type === 'headers');
  if (headers === undefined || headers.type !== 'headers') return null;
  const fields = decodeFieldSection(headers.fieldSection);
  return { status: Number(fields.find((field) => field.name === ':status')?.value), fields };
}

/** Waits for the server's response on `streamId`, collecting the bytes it sent. */
export async function waitForResponse(peer: RawH3Peer, streamId: number, timeoutMs = 5_000): Promise<{ status: number; fields: HeaderField[] }> {
  const deadline = Date.now() + timeoutMs;
  let received = Buffer.alloc(0);
  for (;;) {
    received = Buffer.concat([received, peer.read(streamId)]);
    const response = parseResponse(received);
    if (response !== null) return response;
    if (Date.now() > deadline) throw new Error(`no response on stream ${streamId} within ${timeoutMs} ms (${received.length} bytes so far)`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Opens a raw peer with its control stream and a session on stream 0 that the server accepted with 200. */
export async function rawSession(port: number): Promise<RawH3Peer> {
  const peer = await RawH3Peer.connect(port);
  peer.openUni(controlStream());
  const streamId = peer.openBidi(connectHeaders(port));
  const response = await waitForResponse(peer, streamId);
  if (response.status !== 200) throw new Error(`raw session rejected with status ${response.status}`);
  return peer;
}
