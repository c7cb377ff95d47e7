// QUIC transport (RFC 9000) on @matrixai/quic: TLS 1.3 always, one client-opened bidirectional
// stream per connection for frames, DATAGRAM frames (RFC 9221) for sendUnreliable(). Settings are
// documented in ./settings.ts; design, library workarounds and measurements in docs/QUIC.md.
import type { DialOptions, ListenOptions, Transport, TransportConnection, TransportListener } from '../../src/transport/types.js';
import { dialQuic } from './dial.js';
import { listenQuic } from './listener.js';

export { QuicConnection } from './connection.js';
export { QuicListener } from './listener.js';
export type { QuicSettings } from './settings.js';

export class QuicTransport implements Transport {
  readonly kind = 'stream' as const;
  readonly ipProtocol = 'udp' as const;
  readonly secure = true;

  constructor(
    readonly name: string = 'quic',
    private readonly defaults: Record<string, unknown> = {},
  ) {}

  listen(options: ListenOptions, onConnection: (connection: TransportConnection) => void): Promise<TransportListener> {
    return listenQuic(this.name, { ...options, settings: { ...this.defaults, ...options.settings } }, onConnection);
  }

  dial(options: DialOptions): Promise<TransportConnection> {
    return dialQuic(this.name, { ...options, settings: { ...this.defaults, ...options.settings } });
  }
}
