// A QUIC client with ALPN h3 driven directly through the quiche binding of @matrixai/quic, so a
// test can write any bytes on any stream and read how the server ended the connection. The
// transport's own client only ever sends valid HTTP/3.
import dgram from 'node:dgram';
import { webcrypto } from 'node:crypto';
import { native } from '@matrixai/quic';

const { quiche } = native;
type NativeConnection = native.Connection;

export interface ConnectionEnd {
  isApp: boolean;
  errorCode: number;
}

/** Interval of the quiche timer check; loopback needs it only for lost-packet recovery. */
const TIMER_POLL_MS = 5;

export class RawH3Peer {
  private readonly socket = dgram.createSocket('udp4');
  private connection!: NativeConnection;
  private readonly buffer = Buffer.alloc(quiche.MAX_DATAGRAM_SIZE);
  private local!: { host: string; port: number };
  private timer: NodeJS.Timeout | null = null;
  /** When quiche's loss-recovery or idle timer falls due, in Date.now() milliseconds. */
  private timerDueAt: number | null = null;
  private nextUni = 2;
  private nextBidi = 0;

  private constructor(private readonly serverPort: number) {}

  /** Connects and resolves once the handshake completed; rejects after `timeoutMs`. */
  static async connect(serverPort: number, timeoutMs = 5_000): Promise<RawH3Peer> {
    const peer = new RawH3Peer(serverPort);
    await new Promise<void>((resolve) => peer.socket.bind(0, '127.0.0.1', () => resolve()));
    peer.local = { host: '127.0.0.1', port: peer.socket.address().port };
    // The server's certificate is not the subject of the tests that use this peer.
    const config = quiche.Config.withBoringSslCtx(false, false, null, null, null, null);
    config.setApplicationProtos(['h3']);
    config.setMaxIdleTimeout(5_000);
    config.setMaxRecvUdpPayloadSize(quiche.MAX_DATAGRAM_SIZE);
    config.setMaxSendUdpPayloadSize(quiche.MAX_DATAGRAM_SIZE);
    config.setInitialMaxData(1 << 20);
    config.setInitialMaxStreamDataBidiLocal(1 << 18);
    config.setInitialMaxStreamDataBidiRemote(1 << 18);
    config.setInitialMaxStreamDataUni(1 << 18);
    config.setInitialMaxStreamsBidi(8);
    config.setInitialMaxStreamsUni(8);
    config.enableDgram(true, 16, 16);
    const scid = webcrypto.getRandomValues(new Uint8Array(quiche.MAX_CONN_ID_LEN));
    peer.connection = quiche.Connection.connect('localhost', scid, peer.local, { host: '127.0.0.1', port: serverPort }, config);
    peer.socket.on('message', (datagram, from) => peer.receive(datagram, { host: from.address, port: from.port }));
    peer.timer = setInterval(() => peer.tick(), TIMER_POLL_MS);
    peer.flush();
    const deadline = Date.now() + timeoutMs;
    while (!peer.connection.isEstablished()) {
      if (Date.now() > deadline || peer.connection.isClosed()) {
        await peer.close();
        throw new Error(`raw HTTP/3 peer: no handshake with port ${serverPort} within ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return peer;
  }

  get isClosed(): boolean {
    return this.connection.isClosed() || this.connection.isDraining();
  }

  /** How the server closed the connection, once it has. */
  get peerError(): ConnectionEnd | null {
    const error = this.connection.peerError();
    return error === null ? null : { isApp: error.isApp, errorCode: Number(error.errorCode) };
  }

  /** Opens the next client unidirectional stream and writes `bytes` on it. */
  openUni(bytes: Uint8Array, fin = false): number {
    const streamId = this.nextUni;
    this.nextUni += 4;
    this.write(streamId, bytes, fin);
    return streamId;
  }

  /** Opens the next client bidirectional stream and writes `bytes` on it. */
  openBidi(bytes: Uint8Array, fin = false): number {
    const streamId = this.nextBidi;
    this.nextBidi += 4;
    this.write(streamId, bytes, fin);
    return streamId;
  }

  write(streamId: number, bytes: Uint8Array, fin = false): void {
    try {
      this.connection.streamSend(streamId, bytes, fin);
    } catch {
      // The server may have closed the connection or the stream already; that is what tests observe.
    }
    this.flush();
  }

  sendDatagram(bytes: Uint8Array): void {
    try {
      this.connection.dgramSend(bytes);
    } catch {
      // A full queue or a closed connection; the fuzz test only checks how the server reacts.
    }
    this.flush();
  }

  /** Returns everything the server sent on `streamId` so far. */
  read(streamId: number): Buffer {
    const chunks: Buffer[] = [];
    for (;;) {
      let result: [number, boolean] | null;
      try {
        result = this.connection.streamRecv(streamId, this.buffer);
      } catch {
        break;
      }
      if (result === null || result[0] === 0) break;
      chunks.push(Buffer.from(this.buffer.subarray(0, result[0])));
    }
    return Buffer.concat(chunks);
  }

  /** Returns the code of the server's RESET_STREAM on `streamId`, or null when it has not reset the stream. */
  resetCode(streamId: number): number | null {
    try {
      this.connection.streamRecv(streamId, this.buffer);
    } catch (error) {
      const match = /StreamReset\((\d+)\)/.exec(String((error as Error).message));
      if (match !== null) return Number(match[1]);
    }
    return null;
  }

  /** Resolves when the server has closed the connection or `timeoutMs` passed; returns its error, if any. */
  async waitForClose(timeoutMs: number): Promise<ConnectionEnd | null> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isClosed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    return this.peerError;
  }

  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    try {
      this.connection.close(true, 0x100, Buffer.alloc(0));
    } catch {
      // Closed already.
    }
    await Promise.all(this.flush());
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private receive(datagram: Buffer, from: { host: string; port: number }): void {
    try {
      this.connection.recv(datagram, { from, to: this.local });
    } catch {
      return;
    }
    this.flush();
  }

  private tick(): void {
    if (this.timerDueAt === null || Date.now() < this.timerDueAt) return;
    this.connection.onTimeout();
    this.flush();
  }

  /** Sends every datagram quiche has ready; the promises settle when the OS took them. */
  private flush(): Array<Promise<void>> {
    const sent: Array<Promise<void>> = [];
    for (;;) {
      let result: [number, native.SendInfo] | null;
      try {
        result = this.connection.send(this.buffer);
      } catch {
        return sent;
      }
      if (result === null) {
        const timeout = this.connection.timeout();
        this.timerDueAt = timeout === null ? null : Date.now() + timeout;
        return sent;
      }
      const datagram = Buffer.from(this.buffer.subarray(0, result[0]));
      sent.push(new Promise((resolve) => this.socket.send(datagram, result[1].to.port, result[1].to.host, () => resolve())));
    }
  }
}
