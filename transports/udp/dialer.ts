// The client side: a connected UDP socket, the client half of the handshake with retransmission,
// and the established connection that takes over the socket afterwards.
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import type { TimerHandle } from '../../src/clock.js';
import { AuthError, ConfigError, TransportError, type PushlabError } from '../../src/errors.js';
import type { DialOptions, TransportConnection } from '../../src/transport/types.js';
import { UdpConnection } from './connection.js';
import { createClientInit, finishClientHandshake } from './handshake.js';
import { parseServerPublicKey } from './keys.js';
import { CID_LENGTH, encodeInit, PacketType, parsePacket } from './packet.js';
import type { ResolvedUdpSettings } from './settings.js';

/** RETRY exchanges accepted per dial; a server needs one, more means a misbehaving peer. */
const MAX_RETRIES = 3;

/** Creates a socket of the address family of `host`, with the configured kernel buffer sizes. */
export function createUdpSocket(host: string, settings: ResolvedUdpSettings): dgram.Socket {
  return dgram.createSocket({
    type: host.includes(':') ? 'udp6' : 'udp4',
    recvBufferSize: settings.socketBufferBytes,
    sendBufferSize: settings.socketBufferBytes,
  });
}

/** Runs the handshake over a fresh socket and resolves with the established connection. */
export function dialUdp(transport: string, options: DialOptions, settings: ResolvedUdpSettings): Promise<TransportConnection> {
  const serverStatic = parseServerPublicKey(settings.serverPublicKey);
  const cid = randomBytes(CID_LENGTH);
  const init = createClientInit(serverStatic, cid, { receiveWindow: settings.windowSegments });
  if (!init) throw new ConfigError('udp setting "serverPublicKey" is a low-order X25519 point; it cannot be a real server key');
  const log = options.logger.child({ component: 'udp-dialer', cid: cid.toString('hex'), server: `${options.host}:${options.port}` });
  const clock = settings.clock;
  const socket = createUdpSocket(options.host, settings);

  return new Promise<TransportConnection>((resolve, reject) => {
    let cookie: Buffer | null = null;
    let retries = 0;
    let sends = 0;
    let firstSentAt = 0;
    let retryDelay = settings.handshakeRetryMs;
    let retryTimer: TimerHandle | null = null;
    let settled = false;
    const startedAt = clock.now();

    const sendInit = (): void => {
      if (settled) return;
      sends += 1;
      if (sends === 1) firstSentAt = clock.now();
      socket.send(encodeInit(cid, init.ephemeral.publicRaw, cookie, init.ciphertext), (error) => {
        if (error) log.debug({ err: error }, 'udp INIT send failed; the retransmission will retry');
      });
    };

    const scheduleRetransmission = (): void => {
      retryTimer = clock.setTimeout(() => {
        log.debug({ sends, retryDelayMs: retryDelay }, 'udp handshake retransmission');
        sendInit();
        retryDelay = Math.min(retryDelay * 1.5, settings.handshakeMaxRetryMs);
        scheduleRetransmission();
      }, retryDelay);
    };

    const deadline = clock.setTimeout(() => {
      fail(new TransportError('CONNECT_TIMEOUT', `udp handshake with ${options.host}:${options.port} got no valid response within ${settings.handshakeTimeoutMs} ms after ${sends} INITs (settings.handshakeTimeoutMs)`));
    }, settings.handshakeTimeoutMs);

    const cleanup = (): void => {
      settled = true;
      retryTimer?.cancel();
      deadline.cancel();
      options.signal?.removeEventListener('abort', onAbort);
    };

    const fail = (error: PushlabError): void => {
      if (settled) return;
      cleanup();
      log.debug({ err: error }, 'udp dial failed');
      socket.removeAllListeners('message');
      socket.close();
      reject(error);
    };

    const onAbort = (): void => {
      fail(new TransportError('TRANSPORT_FAILED', `udp dial to ${options.host}:${options.port} aborted`, { cause: options.signal?.reason }));
    };

    let connection: UdpConnection | null = null;
    const onMessage = (datagram: Buffer, remote: dgram.RemoteInfo): void => {
      const packet = parsePacket(datagram);
      if (!packet || !packet.cid.equals(cid)) return;
      const from = { address: remote.address, port: remote.port };
      if (connection) {
        if (packet.type === PacketType.DATA) connection.receive(packet, from);
        return;
      }
      if (settled) return;
      switch (packet.type) {
        case PacketType.RETRY:
          if (retries >= MAX_RETRIES) return;
          retries += 1;
          cookie = Buffer.from(packet.cookie);
          sendInit();
          return;
        case PacketType.REJECT:
          // Unauthenticated, but it echoes our random connection id, so only a party on the path
          // can forge it, and such a party could as well drop every datagram.
          fail(new AuthError(`udp handshake rejected by ${options.host}:${options.port}: the server could not decrypt it with its static key, so settings.serverPublicKey does not match the server`));
          return;
        case PacketType.RESPONSE: {
          const result = finishClientHandshake(init, packet.ephemeral, packet.ciphertext);
          if (!result) {
            log.debug('udp RESPONSE failed authentication; ignored');
            return;
          }
          cleanup();
          connection = new UdpConnection({
            transport,
            role: 'client',
            cid,
            keys: result.keys,
            peer: result.peer,
            remote: from,
            maxFrameSize: options.maxFrameSize,
            settings,
            logger: options.logger,
            sendDatagram: (bytes) => {
              socket.send(bytes, (error) => {
                if (error) log.debug({ err: error }, 'udp send failed');
              });
            },
            onEnded: (lingerMs) => closeSocketAfter(socket, lingerMs, clock),
          });
          // Karn's rule (RFC 6298 section 3): only an INIT sent once gives an unambiguous sample.
          if (sends === 1 && retries === 0) connection.seedRtt(clock.now() - firstSentAt);
          connection.startProbing();
          log.debug({ handshakeMs: clock.now() - startedAt, inits: sends }, 'udp handshake complete');
          resolve(connection);
          return;
        }
        default:
          return;
      }
    };

    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('message', onMessage);
    // A connected UDP socket reports ICMP port-unreachable as ECONNREFUSED; the handshake retries.
    socket.on('error', (error) => log.debug({ err: error }, 'udp socket error'));
    socket.connect(options.port, options.host, () => {
      sendInit();
      scheduleRetransmission();
    });
  });
}

function closeSocketAfter(socket: dgram.Socket, lingerMs: number, clock: ResolvedUdpSettings['clock']): void {
  const close = (): void => {
    try {
      socket.close();
    } catch {
      // Already closed.
    }
  };
  if (lingerMs <= 0) {
    setImmediate(close);
    return;
  }
  // Lingering only repeats our CLOSE; it must not keep the process alive.
  socket.unref();
  clock.setTimeout(close, lingerMs);
}
