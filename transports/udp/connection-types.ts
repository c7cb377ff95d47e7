// Public types of a UDP connection: its options, its peer address and its counters.
import type { Logger } from '../../src/logger.js';
import type { HandshakeParams } from './handshake.js';
import type { TrafficKeys } from './protection.js';
import type { ResolvedUdpSettings } from './settings.js';

export interface RemoteAddress {
  address: string;
  port: number;
}

/** Per-connection counters beyond ConnectionStats, for tests and reports. */
export interface UdpCounters {
  datagramsReceived: number;
  /** DATA datagrams whose AEAD tag did not verify (tampered, corrupted or forged). */
  authFailures: number;
  /** Authentic-looking datagrams rejected by the replay window. */
  replaysDropped: number;
  retransmissions: number;
  duplicatesSent: number;
  /** Segments received again after they were already received (spurious retransmissions or duplicates). */
  duplicateSegments: number;
  /** Segments dropped because they were beyond the receive window. */
  beyondWindow: number;
  /** Peer address changes accepted after authentication. */
  migrations: number;
}

export interface UdpConnectionOptions {
  transport: string;
  role: 'client' | 'server';
  cid: Buffer;
  keys: TrafficKeys;
  peer: HandshakeParams;
  remote: RemoteAddress;
  maxFrameSize: number;
  settings: ResolvedUdpSettings;
  logger: Logger;
  /** Hands a datagram to the socket. */
  sendDatagram(datagram: Buffer, remote: RemoteAddress): void;
  /** Called once with the first authenticated datagram from the peer. */
  onConfirmed?(): void;
  /** Called once when the connection ends; `lingerMs` is how long it should still receive (to repeat its CLOSE). */
  onEnded(lingerMs: number): void;
}
