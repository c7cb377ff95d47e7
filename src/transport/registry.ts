// Name → transport factory. The gateway, the client and the experiment runner look transports up
// here by the names in their configuration; the core never imports a concrete transport.
import { TransportError } from '../errors.js';
import type { Transport } from './types.js';

export type TransportFactory = () => Transport;

export class TransportRegistry {
  private readonly factories = new Map<string, TransportFactory>();

  register(name: string, factory: TransportFactory): this {
    this.factories.set(name, factory);
    return this;
  }

  has(name: string): boolean {
    return this.factories.has(name);
  }

  names(): string[] {
    return [...this.factories.keys()];
  }

  create(name: string): Transport {
    const factory = this.factories.get(name);
    if (!factory) {
      throw new TransportError('TRANSPORT_UNKNOWN', `unknown transport "${name}"; registered: ${this.names().join(', ') || 'none'}`);
    }
    return factory();
  }
}
