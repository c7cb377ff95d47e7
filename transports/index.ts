// The built-in transport plug-ins. Entry points (CLI, experiment runner, tests) call this; the
// session core never does.
import { TransportRegistry } from '../src/transport/registry.js';
import { QuicTransport } from './quic/index.js';
import { TcpTransport } from './tcp/index.js';
import { UdpTransport } from './udp/index.js';
import { WebTransportTransport } from './webtransport/index.js';

export function builtinTransports(): TransportRegistry {
  return new TransportRegistry()
    .register('tcp', () => new TcpTransport('tcp'))
    .register('tcp-plain', () => new TcpTransport('tcp-plain', { plain: true }))
    .register('quic', () => new QuicTransport('quic'))
    .register('udp', () => new UdpTransport('udp'))
    .register('webtransport', () => new WebTransportTransport('webtransport'));
}
