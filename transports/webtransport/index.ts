// WebTransport transport (draft-ietf-webtrans-http3-02 over HTTP/3, RFC 9114) on our own HTTP/3
// layer over @matrixai/quic. Browsers and the Node client follow the frame contract of
// docs/WEBTRANSPORT.md: one client-opened bidirectional stream for length-prefixed frames, one
// datagram per unreliable frame. Settings are documented in ./settings.ts.
import type { Clock } from '../../src/clock.js';
import type { DialOptions, ListenOptions, Transport, TransportConnection, TransportListener } from '../../src/transport/types.js';
import { dialWebTransport } from './dial.js';
import { listenWebTransport } from './listener.js';

export { WebTransportConnection, type DatagramStats } from './pushlab-connection.js';
export { WebTransportListener } from './listener.js';
export type { WebTransportServerStats } from './server-connection.js';
export { SessionCloseCode } from './errors.js';
export { DEFAULT_SESSION_PATH, type CertificateHash } from './settings.js';

export interface WebTransportTransportOptions {
  /** Clock of the certificate manager in self-signed mode (issue dates and rotation); wall-clock epoch ms. */
  clock?: Clock;
}

export class WebTransportTransport implements Transport {
  readonly kind = 'stream' as const;
  readonly ipProtocol = 'udp' as const;
  readonly secure = true;

  constructor(
    readonly name: string = 'webtransport',
    private readonly defaults: Record<string, unknown> = {},
    private readonly options: WebTransportTransportOptions = {},
  ) {}

  listen(options: ListenOptions, onConnection: (connection: TransportConnection) => void): Promise<TransportListener> {
    return listenWebTransport(this.name, { ...options, settings: { ...this.defaults, ...options.settings } }, onConnection, this.options.clock);
  }

  dial(options: DialOptions): Promise<TransportConnection> {
    return dialWebTransport(this.name, { ...options, settings: { ...this.defaults, ...options.settings } });
  }
}
