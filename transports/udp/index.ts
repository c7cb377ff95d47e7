// Plain-UDP transport for extreme networks: its own reliability, fragmentation, encryption and
// connection ids, in one datagram per packet of at most 1200 bytes. docs/UDP.md describes the
// protocol, the key schedule and every setting.
import { TransportError, toError } from '../../src/errors.js';
import type { DialOptions, ListenOptions, Transport, TransportConnection, TransportListener } from '../../src/transport/types.js';
import { createUdpSocket, dialUdp } from './dialer.js';
import { generateX25519, parseStaticPrivateKey, type X25519KeyPair } from './keys.js';
import { UdpListener } from './listener.js';
import { resolveUdpSettings, type UdpSettings } from './settings.js';

export { generateUdpKeyPair, type UdpStaticKeyPair } from './keys.js';
export { UdpConnection } from './connection.js';
export type { RemoteAddress, UdpCounters } from './connection-types.js';
export { UdpListener, type UdpListenerCounters } from './listener.js';
export type { UdpSettings } from './settings.js';

export class UdpTransport implements Transport {
  readonly kind = 'datagram' as const;
  readonly ipProtocol = 'udp' as const;
  readonly secure = true;

  constructor(
    readonly name: string = 'udp',
    private readonly defaults: UdpSettings = {},
  ) {}

  async listen(options: ListenOptions, onConnection: (connection: TransportConnection) => void): Promise<TransportListener> {
    const settings = resolveUdpSettings({ ...this.defaults, ...options.settings });
    let staticKey: X25519KeyPair;
    if (settings.staticPrivateKey === undefined) {
      // Without a configured key the listener makes one for its lifetime. Clients then pin the
      // public key from listener.clientSettings, and every restart needs a new pin.
      staticKey = generateX25519();
      options.logger.warn({ transport: this.name }, 'udp settings.staticPrivateKey not set; generated a static key for this listener only');
    } else {
      staticKey = parseStaticPrivateKey(settings.staticPrivateKey);
    }
    const socket = createUdpSocket(options.host, settings);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(options.port, options.host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      socket.close();
      throw new TransportError('TRANSPORT_FAILED', `udp listener could not bind ${options.host}:${options.port}: ${toError(error).message}`, { cause: error });
    }
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
