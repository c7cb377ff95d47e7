// Plain-UDP transport for extreme networks: its own reliability, fragmentation, encryption and
// connection ids, in one datagram per packet of at most 1200 bytes. docs/UDP.md describes the
// protocol, the key schedule and every setting.
import type { DialOptions, ListenOptions, Transport, TransportConnection, TransportListener } from '../../src/transport/types.js';
import { createUdpSocket, dialUdp } from './dialer.js';
import { parseStaticPrivateKey } from './keys.js';
import { UdpListener } from './listener.js';
import { resolveUdpSettings, type UdpSettings } from './settings.js';

export { generateUdpKeyPair, type UdpStaticKeyPair } from './keys.js';
export { UdpConnection, type UdpCounters } from './connection.js';
export { UdpListener, type UdpListenerCounters } from './listener.js';
export type { UdpSettings } from './settings.js';

export class UdpTransport implements Transport {
  readonly kind = 'datagram' as const;
  readonly secure = true;

  constructor(
    readonly name: string = 'udp',
    private readonly defaults: UdpSettings = {},
  ) {}

  async listen(options: ListenOptions, onConnection: (connection: TransportConnection) => void): Promise<TransportListener> {
    const settings = resolveUdpSettings({ ...this.defaults, ...options.settings });
    const staticKey = parseStaticPrivateKey(settings.staticPrivateKey);
    const socket = createUdpSocket(options.host, settings);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port, options.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const listener = new UdpListener({
      transport: this.name,
      socket,
      staticKey,
      maxFrameSize: options.maxFrameSize,
      settings,
      logger: options.logger,
      onConnection,
    });
    options.logger.info({ transport: this.name, address: listener.address }, 'udp listener started');
    return listener;
  }

  async dial(options: DialOptions): Promise<TransportConnection> {
    const settings = resolveUdpSettings({ ...this.defaults, ...options.settings });
    return dialUdp(this.name, options, settings);
  }
}
