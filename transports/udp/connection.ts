// One established UDP connection (either role): packet protection, replay protection, reliable
// ordered delivery, path migration, idle and delivery timeouts, and the authenticated close.
import { CloseCode } from '../../src/codec/proto.js';
import { ConnectionClosedError, MessageTooLargeError, ProtocolError, TransportError, toError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { BaseConnection } from '../../src/transport/base-connection.js';
import { DeadlineTimer } from './deadline-timer.js';
import { FRAGMENT_SIZE, PacketWriter, type PacketSink } from './packet-writer.js';
import { MAX_PACKET_NUMBER, type Packet, type PacketType } from './packet.js';
import { PacketProtection } from './protection.js';
import type { RemoteAddress, UdpConnectionOptions, UdpCounters } from './connection-types.js';
import { FrameType, readFrames, type InnerFrame } from './frames.js';
import { AckTracker, ReliableReceiver } from './receiver.js';
import { ReplayWindow } from './replay-window.js';
import { ReliableSender } from './sender.js';
import type { ResolvedUdpSettings } from './settings.js';

type State = 'open' | 'closing' | 'closed';

/** Maximum time a locally closed connection keeps replying to the peer's packets with its CLOSE. */
const MAX_LINGER_MS = 5_000;

export class UdpConnection extends BaseConnection implements PacketSink {
  readonly counters: UdpCounters = { datagramsReceived: 0, authFailures: 0, replaysDropped: 0, retransmissions: 0, duplicatesSent: 0, duplicateSegments: 0, beyondWindow: 0, migrations: 0 };
  readonly cid: Buffer;
  private state: State = 'open';
  private remote: RemoteAddress;
  private confirmed = false;
  private nextPacketNumber = 0;
  private highestReceived = -1;
  private lastReceivedAt: number;
  private progressAt: number;
  private closeDeadline = Infinity;
  private closeDatagram: Buffer | null = null;
  private lastCloseRepeatAt = 0;
  private receiveFailed = false;
  private wasCongested = false;
  private flushScheduled = false;
  private readonly settings: ResolvedUdpSettings;
  private readonly log: Logger;
  private readonly protection: PacketProtection;
  private readonly replay = new ReplayWindow();
  private readonly sender: ReliableSender;
  private readonly receiver: ReliableReceiver;
  private readonly acks = new AckTracker();
  private readonly writer: PacketWriter;
  private readonly rtoTimer: DeadlineTimer;
  private readonly ackTimer: DeadlineTimer;
  private readonly housekeeping: DeadlineTimer;
  private readonly createdAt: number;

  constructor(private readonly options: UdpConnectionOptions) {
    super(options.transport, `${options.remote.address}:${options.remote.port}`, options.maxFrameSize);
    this.cid = options.cid;
    this.remote = options.remote;
    this.settings = options.settings;
    this.log = options.logger.child({ component: 'udp-connection', connectionId: this.id, cid: options.cid.toString('hex'), role: options.role });
    this.protection = new PacketProtection(options.keys);
    const clock = this.settings.clock;
    this.createdAt = clock.now();
    this.lastReceivedAt = this.createdAt;
    this.progressAt = this.createdAt;
    this.sender = new ReliableSender(this.settings, this.settings.windowSegments, FRAGMENT_SIZE);
    this.sender.setPeerWindow(options.peer.receiveWindow);
    this.receiver = new ReliableReceiver(options.maxFrameSize, this.settings.windowSegments, (frame) => this.emitFrame(frame));
    this.writer = new PacketWriter(this, this.settings, this.sender, this.acks, this.receiver);
    this.rtoTimer = new DeadlineTimer(clock, () => this.onRetransmissionTimeout());
    this.ackTimer = new DeadlineTimer(clock, () => this.flush(true));
    this.housekeeping = new DeadlineTimer(clock, () => this.onHousekeeping());
    this.scheduleHousekeeping();
  }

  get bufferedAmount(): number {
    return this.sender.bufferedBytes;
  }

  get congested(): boolean {
    return this.sender.bufferedBytes > this.settings.highWaterMark;
  }

  /** The address datagrams currently go to; it follows the peer after an authenticated address change. */
  get peerAddress(): RemoteAddress {
    return { ...this.remote };
  }

  /** Smoothed RTT in milliseconds, once measured. */
  get smoothedRttMs(): number | undefined {
    return this.sender.rtt.smoothedRtt;
  }

  /** Seeds the RTT estimator with a handshake round trip (only when it was not retransmitted). */
  seedRtt(rttMs: number): void {
    this.sender.rtt.addSample(rttMs);
  }

  /** Throws MessageTooLargeError for a frame above maxFrameSize; the peer would reject it anyway. */
  override send(frame: Uint8Array): void {
    if (this.state !== 'open') return;
    if (frame.length > this.maxFrameSize) throw new MessageTooLargeError(frame.length, this.maxFrameSize);
    this.sender.enqueue(frame);
    if (this.congested) this.wasCongested = true;
    this.flush();
  }

  override sendUnreliable(frame: Uint8Array): void {
    if (this.state !== 'open') return;
    if (!this.writer.fitsDatagram(frame.length)) {
      this.send(frame);
      return;
    }
    this.writer.sendDatagramFrame(frame);
    this.afterSend();
  }

  override close(): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.closeDeadline = this.settings.clock.now() + this.settings.closeFlushTimeoutMs;
    this.log.debug({ buffered: this.bufferedAmount }, 'closing udp connection');
    if (this.sender.idle) {
      this.finish(CloseCode.NORMAL, 'closed');
      return;
    }
    this.housekeeping.ensureBy(this.closeDeadline);
  }

  override destroy(): void {
    this.finish(CloseCode.NORMAL, 'destroyed');
  }

  /** Ends the connection because its listener is shutting down. */
  shutDown(): void {
    this.finish(CloseCode.GOING_AWAY, 'listener closed', undefined, 0);
  }

  // PacketSink: the writer calls this for every datagram it builds.
  allocatePacketNumber(): number {
    const packetNumber = this.nextPacketNumber++;
    if (packetNumber > MAX_PACKET_NUMBER) throw new TransportError('TRANSPORT_FAILED', 'udp packet numbers exhausted; reconnect');
    return packetNumber;
  }

  transmit(datagram: Buffer): void {
    this.stats.bytesSent += datagram.length;
    this.stats.writes += 1;
    this.options.sendDatagram(datagram, this.remote);
  }

  sealPacket(packetNumber: number, header: Buffer, plaintext: Uint8Array): Buffer {
    return this.protection.sealPacket(packetNumber, header, plaintext);
  }

  /**
   * Processes one DATA packet addressed to this connection. Returns true when it authenticated;
   * only then may the caller treat `from` as the peer's address.
   */
  receive(packet: Extract<Packet, { type: typeof PacketType.DATA }>, from: RemoteAddress): boolean {
    this.counters.datagramsReceived += 1;
    if (!this.replay.check(packet.packetNumber)) {
      this.counters.replaysDropped += 1;
      return false;
    }
    const plaintext = this.protection.openPacket(packet.packetNumber, packet.header, packet.ciphertext);
    if (!plaintext) {
      this.counters.authFailures += 1;
      if (this.counters.authFailures % 100 === 1) this.log.debug({ authFailures: this.counters.authFailures }, 'udp datagram failed authentication; dropped');
      return false;
    }
    this.replay.mark(packet.packetNumber);
    const now = this.settings.clock.now();
    this.lastReceivedAt = now;
    if (packet.packetNumber > this.highestReceived) {
      this.highestReceived = packet.packetNumber;
      // Migrate only on the newest authenticated packet, so a delayed or replayed older packet
      // from an old address cannot pull the path back (RFC 9000 section 9.3 does the same).
      if (from.address !== this.remote.address || from.port !== this.remote.port) this.migrate(from);
    }
    if (this.state === 'closed') {
      this.repeatClose(now);
      return true;
    }
    if (!this.confirmed) {
      this.confirmed = true;
      this.options.onConfirmed?.();
    }

    let frames: InnerFrame[];
    try {
      frames = readFrames(plaintext);
    } catch (error) {
      this.fail(toError(error), CloseCode.PROTOCOL_ERROR);
      return true;
    }
    let ackEliciting = false;
    for (const frame of frames) {
      if (frame.type !== FrameType.ACK) ackEliciting = true;
      this.handleFrame(frame, now);
      if (this.closed) return true;
    }
    this.acks.onPacket(packet.packetNumber, ackEliciting, now);
    this.flush();
    this.scheduleHousekeeping();
    return true;
  }

  private handleFrame(frame: InnerFrame, now: number): void {
    switch (frame.type) {
      case FrameType.ACK: {
        const outcome = this.sender.onAck(frame, now);
        this.writer.onPeerLoss(frame.lossPermille / 1000);
        this.counters.retransmissions += outcome.newlyLost;
        if (outcome.newlyAcked > 0) this.onAcked();
        break;
      }
      case FrameType.SEGMENT: {
        if (this.receiveFailed) return;
        const hadGap = this.receiver.hasGap;
        const heldIncomplete = this.receiver.holdsIncompleteData;
        const delivered = this.receiver.deliveredUpTo;
        let result;
        try {
          result = this.receiver.onSegment(frame);
        } catch (error) {
          // FrameTooLargeError or ProtocolError: the session decides how to close (FRAME_TOO_LARGE...).
          this.receiveFailed = true;
          this.emitError(toError(error));
          return;
        }
        if (result === 'beyond-window') this.counters.beyondWindow += 1;
        if (result === 'duplicate') this.counters.duplicateSegments += 1;
        // ACK at once when a hole opens, fills or persists, and for duplicates (our ACK was lost).
        if (result !== 'accepted' || hadGap || this.receiver.hasGap) this.acks.immediate = true;
        // The reassembly timeout counts from the last in-order progress, or from when data started waiting.
        if (!heldIncomplete || this.receiver.deliveredUpTo !== delivered) this.progressAt = now;
        break;
      }
      case FrameType.DATAGRAM:
        this.emitFrame(frame.payload);
        break;
      case FrameType.PING:
        break;
      case FrameType.CLOSE:
        this.onPeerClose(frame.code, frame.reason);
        break;
    }
  }

  private onAcked(): void {
    if (this.wasCongested && !this.congested) {
      this.wasCongested = false;
      this.emitDrain();
    }
    if (this.state === 'closing' && this.sender.idle) this.finish(CloseCode.NORMAL, 'closed');
  }

  private migrate(from: RemoteAddress): void {
    this.log.info({ from: `${this.remote.address}:${this.remote.port}`, to: `${from.address}:${from.port}` }, 'udp peer address changed; path migrated');
    this.remote = { address: from.address, port: from.port };
    this.counters.migrations += 1;
  }

  /** Sends whatever is due: lost segments, new segments within the window, a due ACK. */
  private flush(forceAck = false): void {
    if (this.state === 'closed') return;
    let more: boolean;
    try {
      const outcome = this.writer.flush(forceAck);
      this.counters.duplicatesSent += outcome.duplicates;
      more = outcome.more;
    } catch (error) {
      this.fail(toError(error), CloseCode.INTERNAL_ERROR);
      return;
    }
    if (more && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
    this.afterSend();
  }

  private afterSend(): void {
    if (this.acks.pending) this.ackTimer.ensureBy(this.settings.clock.now() + this.settings.maxAckDelayMs);
    const deadline = this.sender.rtoDeadline();
    if (deadline !== undefined) this.rtoTimer.ensureBy(deadline);
  }

  private onRetransmissionTimeout(): void {
    if (this.state === 'closed') return;
    const now = this.settings.clock.now();
    const oldest = this.sender.oldestUnacked();
    if (oldest && this.settings.deliveryTimeoutMs > 0 && now - oldest.firstSentAt >= this.settings.deliveryTimeoutMs) {
      this.fail(new TransportError('TRANSPORT_FAILED', `udp peer acknowledged nothing for ${this.settings.deliveryTimeoutMs} ms (settings.deliveryTimeoutMs)`), CloseCode.INTERNAL_ERROR);
      return;
    }
    const expired = this.sender.onRtoExpired(now);
    this.counters.retransmissions += expired;
    if (expired > 0) this.log.trace({ expired, rtoMs: this.sender.rtt.rto }, 'udp retransmission timeout');
    // The client keeps probing until the server has seen an authenticated packet (it may have lost them all).
    if (!this.confirmed && this.options.role === 'client') this.writer.sendPing();
    this.flush();
    if (!this.confirmed && this.options.role === 'client') this.rtoTimer.ensureBy(now + this.sender.rtt.rto);
  }

  /** Starts the client's confirmation probing: a PING now, repeated until the server replies. */
  startProbing(): void {
    this.writer.sendPing();
    this.rtoTimer.ensureBy(this.settings.clock.now() + this.sender.rtt.rto);
  }

  private scheduleHousekeeping(): void {
    const { idleTimeoutMs, handshakeTimeoutMs, reassemblyTimeoutMs } = this.settings;
    let next = this.closeDeadline;
    if (idleTimeoutMs > 0) next = Math.min(next, this.lastReceivedAt + idleTimeoutMs);
    if (!this.confirmed) next = Math.min(next, this.createdAt + handshakeTimeoutMs);
    if (reassemblyTimeoutMs > 0 && this.receiver.holdsIncompleteData) next = Math.min(next, this.progressAt + reassemblyTimeoutMs);
    if (next < Infinity) this.housekeeping.ensureBy(next);
  }

  private onHousekeeping(): void {
    if (this.state === 'closed') return;
    const now = this.settings.clock.now();
    const { idleTimeoutMs, handshakeTimeoutMs, reassemblyTimeoutMs } = this.settings;
    if (this.state === 'closing' && now >= this.closeDeadline) {
      this.log.warn({ buffered: this.bufferedAmount }, 'udp close flush timed out; closing with unacknowledged frames');
      this.finish(CloseCode.NORMAL, 'closed');
      return;
    }
    if (idleTimeoutMs > 0 && now - this.lastReceivedAt >= idleTimeoutMs) {
      this.fail(new TransportError('TRANSPORT_FAILED', `udp connection idle: no authenticated datagram for ${idleTimeoutMs} ms (settings.idleTimeoutMs)`), CloseCode.HEARTBEAT_TIMEOUT);
      return;
    }
    if (!this.confirmed && now - this.createdAt >= handshakeTimeoutMs) {
      this.fail(new TransportError('CONNECT_TIMEOUT', `udp peer did not confirm the handshake within ${handshakeTimeoutMs} ms`), CloseCode.HANDSHAKE_TIMEOUT);
      return;
    }
    if (reassemblyTimeoutMs > 0 && this.receiver.holdsIncompleteData && now - this.progressAt >= reassemblyTimeoutMs) {
      this.fail(new TransportError('TRANSPORT_FAILED', `udp receive stalled: a missing fragment did not arrive within ${reassemblyTimeoutMs} ms (settings.reassemblyTimeoutMs)`), CloseCode.INTERNAL_ERROR);
      return;
    }
    this.scheduleHousekeeping();
  }

  private onPeerClose(code: number, reason: string): void {
    this.log.debug({ code, reason }, 'udp peer closed the connection');
    this.release(0);
    this.emitClose(code === CloseCode.NORMAL ? {} : { error: new ConnectionClosedError(code, reason) });
  }

  private fail(error: Error, code: CloseCode): void {
    if (error instanceof ProtocolError) code = CloseCode.PROTOCOL_ERROR;
    this.log.warn({ err: error }, 'udp connection failed');
    this.finish(code, error.message, error);
  }

  /**
   * Ends the connection from this side: an authenticated CLOSE goes out twice (one copy may be
   * lost), then the connection lingers to repeat it to a peer that keeps sending.
   */
  private finish(code: CloseCode, reason: string, error?: Error, lingerMs?: number): void {
    if (this.state === 'closed') return;
    try {
      this.closeDatagram = this.writer.sendClose(code, reason);
      this.writer.sendClose(code, reason);
    } catch (sendError) {
      this.log.debug({ err: sendError }, 'udp close datagram not sent');
    }
    const linger = lingerMs ?? Math.min(3 * this.sender.rtt.rto, MAX_LINGER_MS);
    this.release(linger);
    this.emitClose(error ? { error } : {});
  }

  private release(lingerMs: number): void {
    this.state = 'closed';
    this.rtoTimer.cancel();
    this.ackTimer.cancel();
    this.housekeeping.cancel();
    this.options.onEnded(lingerMs);
  }

  /** Resends the stored CLOSE in reply to a packet that arrived after this side closed, at most every 50 ms. */
  private repeatClose(now: number): void {
    if (!this.closeDatagram || now - this.lastCloseRepeatAt < 50) return;
    this.lastCloseRepeatAt = now;
    this.transmit(this.closeDatagram);
  }
}
