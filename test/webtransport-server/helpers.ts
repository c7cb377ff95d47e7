// Shared fixtures of the WebTransport server tests: a listener whose accepted connections are
// recorded, a Node client dial, and a raw HTTP/3 client for sending what the transport's own
// client never would.
import { silentLogger } from '../../src/logger.js';
import type { Clock } from '../../src/clock.js';
import { WebTransportTransport, type WebTransportConnection, type WebTransportListener } from '../../transports/webtransport/index.js';
import { Recorder, tlsMaterial } from '../quic/helpers.js';

export { Recorder, tlsMaterial, watchProcessFaults, payload, bytes } from '../quic/helpers.js';

export const MAX_FRAME_SIZE = 64 * 1024;
export const logger = silentLogger();

export interface ServerHarness {
  listener: WebTransportListener;
  port: number;
  accepted: Recorder<WebTransportConnection>[];
  nextAccepted(timeoutMs?: number): Promise<Recorder<WebTransportConnection>>;
}

export interface StartServerOptions {
  settings?: Record<string, unknown>;
  maxFrameSize?: number;
  /** Serve the shared test certificate (default) or none, which selects the self-signed manager. */
  tls?: boolean;
  clock?: Clock;
}

export async function startServer(options: StartServerOptions = {}): Promise<ServerHarness> {
  const tls = await tlsMaterial();
  const transport = new WebTransportTransport('webtransport', {}, options.clock ? { clock: options.clock } : {});
  const accepted: Recorder<WebTransportConnection>[] = [];
  const listener = (await transport.listen(
    {
      host: '127.0.0.1',
      port: 0,
      maxFrameSize: options.maxFrameSize ?? MAX_FRAME_SIZE,
      ...(options.tls === false ? {} : { tls: { cert: tls.cert, key: tls.key } }),
      logger,
      settings: { closeTimeoutMs: 1_000, ...options.settings },
    },
    (connection) => accepted.push(new Recorder(connection as WebTransportConnection)),
  )) as WebTransportListener;
  let taken = 0;
  const nextAccepted = async (timeoutMs = 5_000): Promise<Recorder<WebTransportConnection>> => {
    const deadline = Date.now() + timeoutMs;
    while (accepted.length <= taken) {
      if (Date.now() > deadline) throw new Error(`no connection accepted within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return accepted[taken++]!;
  };
  return { listener, port: listener.address.port, accepted, nextAccepted };
}

export interface DialOverrides {
  settings?: Record<string, unknown>;
  maxFrameSize?: number;
  /** Trust the test certificate through tls.ca; by default only the pinned hashes are used. */
  ca?: boolean;
}

/** Dials `server` with its clientSettings (path and pinned hashes), as the gateway fixture does. */
export async function dial(server: ServerHarness, overrides: DialOverrides = {}): Promise<WebTransportConnection> {
  const tls = await tlsMaterial();
  const connection = await new WebTransportTransport().dial({
    host: '127.0.0.1',
    port: server.port,
    maxFrameSize: overrides.maxFrameSize ?? MAX_FRAME_SIZE,
    ...(overrides.ca ? { tls: { ca: tls.cert, serverName: 'localhost' } } : {}),
    logger,
    settings: { ...server.listener.clientSettings, closeTimeoutMs: 1_000, ...overrides.settings },
  });
  return connection as WebTransportConnection;
}

/** Resolves when `predicate` holds, polling every 10 ms; rejects after `timeoutMs`, naming `what`. */
export async function until(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
