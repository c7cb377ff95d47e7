// A TransportConnection whose socket lives in another worker process: the owner of a user runs
// the session over it, and every frame crosses the primary's IPC channel to the worker that
// accepted the socket.
import { BaseConnection } from '../transport/base-connection.js';
import type { ClusterEnvelope } from './messages.js';

export class RelayedConnection extends BaseConnection {
  constructor(
    readonly conn: string,
    private readonly origin: number,
    transport: string,
    remoteAddress: string,
    maxFrameSize: number,
    private readonly post: (envelope: ClusterEnvelope) => void,
  ) {
    super(transport, remoteAddress, maxFrameSize);
  }

  // NOTE: the origin worker's socket buffer is not visible here, so a relayed session never
  // reports congestion and relies on the send window alone.
  readonly bufferedAmount = 0;
  readonly congested = false;

  send(frame: Uint8Array): void {
    if (this.closed) return;
    this.stats.bytesSent += frame.length;
    this.stats.writes += 1;
    this.post({ to: this.origin, body: { t: 'frame', conn: this.conn, frame } });
  }

  close(): void {
    this.post({ to: this.origin, body: { t: 'close', conn: this.conn, mode: 'end' } });
  }

  destroy(): void {
    this.post({ to: this.origin, body: { t: 'close', conn: this.conn, mode: 'destroy' } });
    this.emitClose();
  }

  /** Passes on a frame from the device that arrived at the origin worker. */
  deliver(frame: Uint8Array): void {
    this.emitFrame(frame);
  }

  /** Reports that the origin worker's socket closed. */
  peerClosed(): void {
    this.emitClose();
  }
}
