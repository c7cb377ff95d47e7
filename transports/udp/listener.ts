// The server side: one UDP socket, datagrams routed to connections by connection id, the server
// half of the handshake with bounded half-open state, and address-validation cookies under load.
import dgram from 'node:dgram';
import type { TimerHandle } from '../../src/clock.js';
import type { Logger } from '../../src/logger.js';
import type { TransportAddress, TransportConnection, TransportListener } from '../../src/transport/types.js';
import { UdpConnection } from './connection.js';
import type { RemoteAddress } from './connection-types.js';
import { CookieJar } from './cookie.js';
import { acceptClientInit } from './handshake.js';
import type { X25519KeyPair } from './keys.js';
import { encodeReject, encodeResponse, encodeRetry, PacketType, parsePacket, PROTOCOL_VERSION, RejectReason, type Packet } from './packet.js';
import type { ResolvedUdpSettings } from './settings.js';

/** Listener-wide counters of datagrams that never reached a connection. */
export interface UdpListenerCounters {
  datagramsReceived: number;
  /** Too short, unknown type, bad lengths, or a type only servers send. */
  malformed: number;
  /** DATA for a connection id that is not (or no longer) known. */
  unknownConnection: number;
  unsupportedVersion: number;
  /** INITs that did not decrypt with the static key; the server replies with REJECT. */
  handshakesRejected: number;
  retriesSent: number;
  /** INITs with a cookie that did not verify. */
  invalidCookies: number;
  /** INITs dropped because maxHalfOpen handshakes were pending. */
  halfOpenDropped: number;
}

interface Entry {
  connection: UdpConnection;
  clientEphemeral: Buffer;
  response: Buffer;
  responseSends: number;
  responseSentAt: number;
  halfOpen: boolean;
  lingerTimer: TimerHandle | null;
}

export interface UdpListenerOptions {
  transport: string;
  socket: dgram.Socket;
  staticKey: X25519KeyPair;
  maxFrameSize: number;
  settings: ResolvedUdpSettings;
  logger: Logger;
  onConnection(connection: TransportConnection): void;
}

export class UdpListener implements TransportListener {
  readonly counters: UdpListenerCounters = {
    datagramsReceived: 0,
    malformed: 0,
    unknownConnection: 0,
    unsupportedVersion: 0,
    handshakesRejected: 0,
    retriesSent: 0,
    invalidCookies: 0,
    halfOpenDropped: 0,
  };
  readonly transport: string;
  readonly address: TransportAddress;
  /** Client settings for DialOptions.settings: the static public key to pin, as base64url. */
  readonly clientSettings: { serverPublicKey: string };
  private readonly entries = new Map<string, Entry>();
  private halfOpen = 0;
  /** INITs that cost X25519 work in the current one-second window, accepted or rejected. */
  private handshakesThisSecond = 0;
  private currentSecond = 0;
  private closing = false;
  /** Datagrams handed to the socket whose send callback has not run yet. */
  private sendsInProgress = 0;
  private readonly cookies: CookieJar;
  private readonly log: Logger;
  private readonly socket: dgram.Socket;

  constructor(private readonly options: UdpListenerOptions) {
    this.transport = options.transport;
    this.socket = options.socket;
    const bound = this.socket.address();
    this.address = { host: bound.address, port: bound.port };
    this.clientSettings = { serverPublicKey: options.staticKey.publicRaw.toString('base64url') };
    this.cookies = new CookieJar(options.settings.clock);
    this.log = options.logger.child({ component: 'udp-listener', port: bound.port });
    this.socket.on('message', (datagram, remote) => this.onDatagram(datagram, { address: remote.address, port: remote.port }));
    this.socket.on('error', (error) => this.log.error({ err: error }, 'udp listener socket error'));
  }

  /** Connections known to the listener, established or half-open. */
  get connectionCount(): number {
    return this.entries.size;
  }

  get halfOpenCount(): number {
    return this.halfOpen;
  }

  close(): Promise<void> {
    if (this.closing) return Promise.resolve();
    this.closing = true;
    for (const entry of [...this.entries.values()]) {
      entry.lingerTimer?.cancel();
      entry.connection.shutDown();
    }
    this.entries.clear();
    this.halfOpen = 0;
    this.log.info('udp listener closed');
    return this.closeSocketAfterSends();
  }

  /** Closes the socket once the CLOSE datagrams just queued went out (at most 200 ms later). */
  private async closeSocketAfterSends(): Promise<void> {
    const deadline = Date.now() + 200;
    while (this.sendsInProgress > 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private send(datagram: Buffer, remote: RemoteAddress): void {
    if (this.closing && this.entries.size === 0) return;
    this.sendsInProgress += 1;
    this.socket.send(datagram, remote.port, remote.address, (error) => {
      this.sendsInProgress -= 1;
      if (error) this.log.debug({ err: error, remote }, 'udp send failed');
    });
  }

  private onDatagram(datagram: Buffer, from: RemoteAddress): void {
    this.counters.datagramsReceived += 1;
    const packet = parsePacket(datagram);
    if (!packet) {
      this.counters.malformed += 1;
      return;
    }
    if (packet.type === PacketType.INIT) {
      this.onInit(packet, from);
      return;
    }
    if (packet.type !== PacketType.DATA) {
      this.counters.malformed += 1;
      return;
    }
    const entry = this.entries.get(packet.cid.toString('hex'));
    if (!entry) {
      this.counters.unknownConnection += 1;
      return;
    }
    entry.connection.receive(packet, from);
  }

  private onInit(packet: Extract<Packet, { type: typeof PacketType.INIT }>, from: RemoteAddress): void {
    if (this.closing) return;
    if (packet.version !== PROTOCOL_VERSION) {
      this.counters.unsupportedVersion += 1;
      return;
    }
    const key = packet.cid.toString('hex');
    const existing = this.entries.get(key);
    if (existing) {
      // A retransmitted INIT (our RESPONSE was lost): repeat the stored RESPONSE without new crypto.
      if (existing.halfOpen && existing.clientEphemeral.equals(packet.ephemeral)) {
        existing.responseSends += 1;
        this.send(existing.response, from);
      }
      return;
    }
    const { settings } = this.options;
    if (this.halfOpen >= settings.maxHalfOpen) {
      this.counters.halfOpenDropped += 1;
      if (this.counters.halfOpenDropped % 1000 === 1) this.log.warn({ halfOpen: this.halfOpen }, 'udp half-open limit reached; dropping handshakes');
      return;
    }
    // Rejected INITs leave no half-open state but still cost a DH each, so recent attempts count
    // towards the load that makes the server demand a cookie.
    if (this.handshakeLoad() >= settings.cookieThreshold) {
      if (!packet.cookie) {
        this.counters.retriesSent += 1;
        this.send(encodeRetry(packet.cid, this.cookies.make(from.address, from.port, packet.cid, packet.ephemeral)), from);
        return;
      }
      if (!this.cookies.verify(packet.cookie, from.address, from.port, packet.cid, packet.ephemeral)) {
        this.counters.invalidCookies += 1;
        return;
      }
    }

    this.handshakesThisSecond += 1;
    const outcome = acceptClientInit(this.options.staticKey, packet.cid, packet.ephemeral, packet.ciphertext, {
      receiveWindow: settings.windowSegments,
    });
    if (outcome.kind === 'rejected') {
      this.counters.handshakesRejected += 1;
      if (this.counters.handshakesRejected % 100 === 1) {
        this.log.info({ remote: from, rejected: this.counters.handshakesRejected }, 'udp INIT did not decrypt with the static key (a wrong pinned key or a forged INIT); replied with REJECT');
      }
      this.send(encodeReject(packet.cid, RejectReason.DECRYPT_FAILED), from);
      return;
    }
    this.admit(key, packet, from, outcome.ephemeralPublic, outcome.ciphertext, outcome.result);
  }

  /** Half-open handshakes plus INITs processed with cryptography in the current second. */
  private handshakeLoad(): number {
    const second = Math.floor(this.options.settings.clock.now() / 1000);
    if (second !== this.currentSecond) {
      this.currentSecond = second;
      this.handshakesThisSecond = 0;
    }
    return this.halfOpen + this.handshakesThisSecond;
  }

  private admit(
    key: string,
    packet: Extract<Packet, { type: typeof PacketType.INIT }>,
    from: RemoteAddress,
    ephemeralPublic: Buffer,
    ciphertext: Buffer,
    result: Extract<ReturnType<typeof acceptClientInit>, { kind: 'accepted' }>['result'],
  ): void {
    const { settings } = this.options;
    const cid = Buffer.from(packet.cid);
    const entry: Entry = {
      connection: null as unknown as UdpConnection,
      clientEphemeral: Buffer.from(packet.ephemeral),
      response: encodeResponse(cid, ephemeralPublic, ciphertext),
      responseSends: 1,
      responseSentAt: settings.clock.now(),
      halfOpen: true,
      lingerTimer: null,
    };
    entry.connection = new UdpConnection({
      transport: this.transport,
      role: 'server',
      cid,
      keys: result.keys,
      peer: result.peer,
      remote: from,
      maxFrameSize: this.options.maxFrameSize,
      settings,
      logger: this.options.logger,
      sendDatagram: (datagram, remote) => this.send(datagram, remote),
      onConfirmed: () => this.confirm(entry),
      onEnded: (lingerMs) => this.release(key, entry, lingerMs),
    });
    this.entries.set(key, entry);
    this.halfOpen += 1;
    this.send(entry.response, from);
  }

  private confirm(entry: Entry): void {
    if (!entry.halfOpen) return;
    entry.halfOpen = false;
    this.halfOpen -= 1;
    // Karn's rule (RFC 6298 section 3): a RESPONSE sent more than once gives no clean sample.
    if (entry.responseSends === 1) entry.connection.seedRtt(this.options.settings.clock.now() - entry.responseSentAt);
    this.log.debug({ connectionId: entry.connection.id, remote: entry.connection.remoteAddress }, 'udp connection established');
    this.options.onConnection(entry.connection);
  }

  private release(key: string, entry: Entry, lingerMs: number): void {
    if (entry.halfOpen) {
      entry.halfOpen = false;
      this.halfOpen -= 1;
    }
    if (this.closing) return;
    if (lingerMs <= 0) {
      this.entries.delete(key);
      return;
    }
    // The closed connection stays routable for a short while to repeat its CLOSE to the peer.
    entry.lingerTimer = this.options.settings.clock.setTimeout(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    }, lingerMs);
  }
}
