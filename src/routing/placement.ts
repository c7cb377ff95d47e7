// Where a user's state lives when the gateway runs as several processes. Each user has one owner
// process holding the inboxes, upstream ledgers and live sessions of all of that user's devices;
// connections that land elsewhere are handed off to the owner, and publishes are routed to it.
import type { Hello } from '../codec/proto.js';
import type { PublishResult } from '../gateway/types.js';
import type { TransportConnection } from '../transport/types.js';
import type { RoutedMessage } from './router.js';

export interface SessionPlacement {
  /** True when this process owns `userId`'s devices. */
  owns(userId: string): boolean;
  /** Hands an authenticated connection (its hello already read) to the owner process. */
  handOff(connection: TransportConnection, hello: Hello): void;
  /** Delivers a message through the owner process. */
  route(message: RoutedMessage): Promise<PublishResult>;
}

/** FNV-1a over the user id: stable across processes and restarts, cheap, and evenly spread. */
export function ownerIndex(userId: string, processes: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < userId.length; i += 1) {
    hash ^= userId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % processes;
}
