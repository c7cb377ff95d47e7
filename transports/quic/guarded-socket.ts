// A QUICSocket that fixes the server accept race of @matrixai/quic 2.0.9 and guards its UDP
// message path.
//
// The accept race: QUICServer.acceptConnection awaits the signing and the validation of the retry
// token (RFC 9000 section 8.1.2) before it puts the new connection into the socket's connection
// map. A second Initial packet with the same destination connection id that arrives during those
// awaits finds no connection, so it starts a second accept; the two server connections then
// overwrite each other in the map and the handshake never completes. A client whose ClientHello
// spans two Initial packets (Chromium, or any ClientHello above about 1,150 bytes) always sends such
// a pair. This socket remembers the connection ids whose accept is in flight, queues packets for
// them, and delivers the queue once the connection is in the map (or re-routes it if the accept
// ended without one).
//
// The guard: the library's message handler is async and rethrows unexpected errors, which would
// surface as unhandled rejections; the underlying dgram socket has no 'error' listener after bind.
import type dgram from 'node:dgram';
import { QUICSocket, native, type QUICConnection } from '@matrixai/quic';
import type { Logger } from '../../src/logger.js';
import { connectionMapOf } from './library-internals.js';
import { guardEventErrors, installConnectionGuard } from './guards.js';
import type { LibraryLogger } from './log-adapter.js';

const { quiche } = native;

/** Packets held per connection id while its accept is in flight; a client sends two or three. */
const MAX_QUEUED_PER_ACCEPT = 32;
/** Packets held over all accepts in flight, so a flood of Initials cannot grow memory without bound. */
const MAX_QUEUED_TOTAL = 4_096;

type QueuedPacket = [data: Buffer, remoteInfo: dgram.RemoteInfo];

export interface AcceptQueueStats {
  /** Packets held back because the accept for their connection id was in flight. */
  queuedPackets: number;
  /** Packets dropped because a queue was full; QUIC retransmits them. */
  droppedPackets: number;
}

export interface GuardedSocketOptions {
  libraryLogger: LibraryLogger;
  logger: Logger;
  /** SO_RCVBUF and SO_SNDBUF in bytes; the kernel caps them at net.core.rmem_max / wmem_max. */
  udpBufferBytes?: number;
}

export class GuardedQuicSocket extends QUICSocket {
  readonly acceptStats: AcceptQueueStats = { queuedPackets: 0, droppedPackets: 0 };
  private readonly pendingAccepts = new Map<string, QueuedPacket[]>();
  private queuedTotal = 0;
  private readonly log: Logger;
  private readonly udpBufferBytes: number | undefined;

  constructor(options: GuardedSocketOptions) {
    super({ logger: options.libraryLogger });
    this.log = options.logger;
    this.udpBufferBytes = options.udpBufferBytes;
    guardEventErrors(this, (error) => this.log.warn({ err: error }, 'QUIC socket error inside the library'));

    const deliver = this.handleSocketMessage;
    this.handleSocketMessage = (data, remoteInfo) => this.routeMessage(deliver, data, remoteInfo);

    // Every connection, server or client side, passes through this map before it starts, which is
    // the one place to install the guards before the library registers its own handlers.
    const connectionMap = connectionMapOf(this);
    const originalSet = connectionMap.set.bind(connectionMap);
    connectionMap.set = (connectionId: Uint8Array, connection: QUICConnection) => {
      installConnectionGuard(connection, this.log);
      const result = originalSet(connectionId, connection);
      this.releaseAccept(connectionId.toString());
      return result;
    };
  }

  override async start(options: Parameters<QUICSocket['start']>[0] = {}): Promise<void> {
    await super.start(options);
    // Errors of an unconnected UDP socket are informational (an ICMP error for one peer, for
    // example); without a listener Node would throw them.
    this.socket.on('error', (error) => this.log.debug({ err: error }, 'UDP socket error'));
    if (this.udpBufferBytes !== undefined) this.resizeBuffers(this.udpBufferBytes);
  }

  /** The dgram socket, for tests and measurements that need its local address. */
  get udpSocket(): dgram.Socket {
    return this.socket;
  }

  /**
   * Enlarges the kernel buffers. With Linux's default of 208 KiB a burst of about 60 full-size
   * datagrams overflows the receive buffer while the event loop is busy; quiche then sees losses,
   * cuts its congestion window and waits for probe timeouts (measured: about 5% of the packets of
   * a 1 MiB transfer on loopback were dropped, counted as RcvbufErrors in /proc/net/snmp).
   */
  private resizeBuffers(bytes: number): void {
    try {
      this.socket.setRecvBufferSize(bytes);
      this.socket.setSendBufferSize(bytes);
    } catch (error) {
      this.log.warn({ err: error, bytes }, 'could not resize the UDP socket buffers');
    }
  }

  private async routeMessage(deliver: (data: Buffer, remoteInfo: dgram.RemoteInfo) => Promise<void>, data: Buffer, remoteInfo: dgram.RemoteInfo): Promise<void> {
    try {
      const header = parseHeader(data);
      if (header === null) return await deliver(data, remoteInfo);
      const key = Buffer.from(header.dcid.buffer, header.dcid.byteOffset, header.dcid.byteLength).toString('hex');
      const queue = this.pendingAccepts.get(key);
      if (queue !== undefined) {
        this.enqueue(queue, data, remoteInfo);
        return;
      }
      if (!this.startsAccept(header)) return await deliver(data, remoteInfo);
      this.pendingAccepts.set(key, []);
      try {
        await deliver(data, remoteInfo);
      } finally {
        // Normally the queue went out when the connection entered the map; this covers an accept
        // that ended without a connection (an invalid token, a handshake that failed).
        this.releaseAccept(key);
      }
    } catch (error) {
      this.log.warn({ err: error, remote: `${remoteInfo.address}:${remoteInfo.port}` }, 'QUIC packet handling failed');
    }
  }

  /** True for a packet that makes QUICServer.acceptConnection create a connection: an Initial with a token. */
  private startsAccept(header: native.Header): boolean {
    if (this.server == null) return false;
    if (header.ty !== quiche.Type.Initial) return false;
    return header.token !== undefined && header.token.byteLength > 0;
  }

  private enqueue(queue: QueuedPacket[], data: Buffer, remoteInfo: dgram.RemoteInfo): void {
    if (queue.length >= MAX_QUEUED_PER_ACCEPT || this.queuedTotal >= MAX_QUEUED_TOTAL) {
      this.acceptStats.droppedPackets += 1;
      return;
    }
    queue.push([data, remoteInfo]);
    this.queuedTotal += 1;
    this.acceptStats.queuedPackets += 1;
  }

  private releaseAccept(key: string): void {
    const queue = this.pendingAccepts.get(key);
    if (queue === undefined) return;
    this.pendingAccepts.delete(key);
    this.queuedTotal -= queue.length;
    if (queue.length === 0) return;
    // setImmediate lets QUICConnection.start() hand its first packet to recv() before these, so
    // the packets reach quiche in arrival order.
    setImmediate(() => {
      for (const [data, remoteInfo] of queue) void this.handleSocketMessage(data, remoteInfo);
    });
  }
}

function parseHeader(data: Buffer): native.Header | null {
  try {
    return quiche.Header.fromSlice(data, quiche.MAX_CONN_ID_LEN);
  } catch {
    // Not a QUIC packet; the library's handler ignores it the same way.
    return null;
  }
}
