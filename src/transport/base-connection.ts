// Shared bookkeeping for TransportConnection implementations: holding events until a handler is
// installed, closing exactly once, and counters.
import type { ConnectionCloseInfo, ConnectionHandler, ConnectionStats, TransportConnection } from './types.js';

let nextConnectionId = 1;

type PendingEvent =
  | { type: 'frame'; frame: Uint8Array }
  | { type: 'error'; error: Error }
  | { type: 'drain' }
  | { type: 'close'; info: ConnectionCloseInfo };

export abstract class BaseConnection implements TransportConnection {
  readonly id: string;
  readonly stats: ConnectionStats = { bytesSent: 0, bytesReceived: 0, writes: 0 };
  private handler: ConnectionHandler | null = null;
  private pending: PendingEvent[] = [];
  private ended = false;

  protected constructor(
    readonly transport: string,
    readonly remoteAddress: string,
    readonly maxFrameSize: number,
  ) {
    this.id = `${transport}-${nextConnectionId++}`;
  }

  abstract readonly bufferedAmount: number;
  abstract readonly congested: boolean;
  abstract send(frame: Uint8Array): void;
  abstract close(): void;
  abstract destroy(): void;

  sendUnreliable(frame: Uint8Array): void {
    this.send(frame);
  }

  get closed(): boolean {
    return this.ended;
  }

  setHandler(handler: ConnectionHandler): void {
    this.handler = handler;
    const pending = this.pending;
    this.pending = [];
    for (const event of pending) this.dispatch(event);
  }

  protected emitFrame(frame: Uint8Array): void {
    if (this.ended) return;
    this.stats.bytesReceived += frame.length;
    this.dispatch({ type: 'frame', frame });
  }

  protected emitError(error: Error): void {
    if (this.ended) return;
    this.dispatch({ type: 'error', error });
  }

  protected emitDrain(): void {
    if (this.ended) return;
    this.dispatch({ type: 'drain' });
  }

  /** Reports the end of the connection once; later calls are ignored. */
  protected emitClose(info: ConnectionCloseInfo = {}): void {
    if (this.ended) return;
    this.ended = true;
    this.dispatch({ type: 'close', info });
  }

  private dispatch(event: PendingEvent): void {
    const handler = this.handler;
    if (!handler) {
      this.pending.push(event);
      return;
    }
    switch (event.type) {
      case 'frame':
        handler.onFrame(event.frame);
        break;
      case 'error':
        handler.onError(event.error);
        break;
      case 'drain':
        handler.onDrain();
        break;
      case 'close':
        handler.onClose(event.info);
        break;
    }
  }
}
