// Keeps the TransportListener objects a gateway opens, so the browser routes read each listener's
// clientSettings when a page requests them. Gateway.listeners contains a copy taken at listen time, which
// would keep publishing a certificate hash after the listener rotated its certificate.
import { TransportRegistry } from '../../transport/registry.js';
import type { Transport, TransportListener } from '../../transport/types.js';
import type { ListenerInfo } from './webtransport-endpoint.js';

export class ListenerRecorder {
  private readonly recorded: TransportListener[] = [];

  /** Returns a registry with the same transports whose listen() also records the listener. */
  wrap(registry: TransportRegistry): TransportRegistry {
    const wrapped = new TransportRegistry();
    for (const name of registry.names()) wrapped.register(name, () => this.recording(registry.create(name)));
    return wrapped;
  }

  /** Returns the recorded listeners, with clientSettings read at call time. */
  listeners(): ListenerInfo[] {
    return this.recorded.map((listener) => ({ transport: listener.transport, address: listener.address, clientSettings: listener.clientSettings }));
  }

  private recording(transport: Transport): Transport {
    return {
      name: transport.name,
      kind: transport.kind,
      ipProtocol: transport.ipProtocol,
      secure: transport.secure,
      listen: async (options, onConnection) => {
        const listener = await transport.listen(options, onConnection);
        this.recorded.push(listener);
        return listener;
      },
      dial: (options) => transport.dial(options),
    };
  }
}
