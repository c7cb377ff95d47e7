// Bounds a promise in time, for handshake steps that wait on the peer.
import { TransportError } from '../../src/errors.js';

/** Resolves like `promise`, or rejects with a CONNECT_TIMEOUT TransportError after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TransportError('CONNECT_TIMEOUT', `timed out after ${ms} ms waiting for ${what}`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
