// A QUIC client driven directly through the quiche binding that ships with @matrixai/quic, for
// tests that need packet-level control the library's QUICClient does not give: here, opening
// streams in the same datagram as the handshake's Finished message.
import dgram from 'node:dgram';
import { webcrypto } from 'node:crypto';
import { native } from '@matrixai/quic';
import { DEFAULT_ALPN } from '../../transports/quic/settings.js';

const { quiche } = native;
type NativeConnection = native.Connection;

export interface RawPeerOptions {
  serverPort: number;
  /** Runs once, right after the handshake completes and before anything else is sent. */
  onEstablished(connection: NativeConnection): void;
}

export class RawQuicPeer {
  readonly datagramsSent: Buffer[] = [];
  private readonly socket = dgram.createSocket('udp4');
  private connection!: NativeConnection;
  private established = false;
  private readonly buffer = Buffer.alloc(quiche.MAX_DATAGRAM_SIZE);

  private constructor(private readonly options: RawPeerOptions) {}

  static async connect(options: RawPeerOptions): Promise<RawQuicPeer> {
    const peer = new RawQuicPeer(options);
    await new Promise<void>((resolve) => peer.socket.bind(0, '127.0.0.1', () => resolve()));
    const local = { host: '127.0.0.1', port: peer.socket.address().port };
    const remote = { host: '127.0.0.1', port: options.serverPort };
    // Certificate checks are not the subject of the tests that use this peer.
    const config = quiche.Config.withBoringSslCtx(false, false, null, null, null, null);
    config.setApplicationProtos([DEFAULT_ALPN]);
    config.setMaxIdleTimeout(5_000);
    config.setMaxRecvUdpPayloadSize(quiche.MAX_DATAGRAM_SIZE);
    config.setMaxSendUdpPayloadSize(quiche.MAX_DATAGRAM_SIZE);
    config.setInitialMaxData(1 << 20);
    config.setInitialMaxStreamDataBidiLocal(1 << 18);
    config.setInitialMaxStreamDataBidiRemote(1 << 18);
    config.setInitialMaxStreamDataUni(1 << 18);
    config.setInitialMaxStreamsBidi(8);
    config.setInitialMaxStreamsUni(8);
    const scid = webcrypto.getRandomValues(new Uint8Array(quiche.MAX_CONN_ID_LEN));
    peer.connection = quiche.Connection.connect('localhost', scid, local, remote, config);
    peer.socket.on('message', (datagram, from) => peer.receive(datagram, { host: from.address, port: from.port }, local));
    peer.flush();
    return peer;
  }

  get isEstablished(): boolean {
    return this.established;
  }

  get isClosed(): boolean {
    return this.connection.isClosed();
  }

  /** Reads what the server sent on `streamId` so far. */
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

  /** Sends CONNECTION_CLOSE with application code 0 and closes the socket once it has left. */
  async close(): Promise<void> {
    try {
      this.connection.close(true, 0, Buffer.alloc(0));
    } catch {
      // Already closed.
    }
    await Promise.all(this.flush());
    this.socket.close();
  }

  private receive(datagram: Buffer, from: { host: string; port: number }, to: { host: string; port: number }): void {
    try {
      this.connection.recv(datagram, { from, to });
    } catch {
      return;
    }
    if (!this.established && this.connection.isEstablished()) {
      this.established = true;
      this.options.onEstablished(this.connection);
    }
    this.flush();
  }

  /** Sends every datagram quiche has ready; the promises settle when the OS took them. */
  private flush(): Array<Promise<void>> {
    const sent: Array<Promise<void>> = [];
    for (;;) {
      const result = this.connection.send(this.buffer);
      if (result === null) return sent;
      const datagram = Buffer.from(this.buffer.subarray(0, result[0]));
      this.datagramsSent.push(datagram);
      sent.push(new Promise((resolve) => this.socket.send(datagram, result[1].to.port, result[1].to.host, () => resolve())));
    }
  }
}
