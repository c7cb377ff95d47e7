// Guards that keep failures inside @matrixai/quic 2.0.9 from ending the process.
//
// The library turns every exception thrown by one of its own event handlers into an 'EventError'
// event whose default handler rethrows it as an uncaught exception; it does this on purpose for
// "internal" errors (a failed UDP send during shutdown, a quiche call that fails unexpectedly).
// Timers and the UDP message handler can also reject promises that nobody awaits. The guards below
// replace those exits with logging plus closing the one connection or stream concerned.
//
// They also fix how streams that the peer opens early are handled. QUICConnection.processStreams
// refuses every new peer stream while the connection is not yet running; for a peer-initiated
// unidirectional stream the refusal itself throws (quiche rejects shutting down the write side of a
// receive-only stream), and the exception escapes from the UDP message handler. A peer may open a
// stream in the same flight as its handshake Finished, so this happens during the 'starting' state.
// The guard holds stream processing back until the transport has attached its stream listener, so
// early streams are accepted (or rejected by the transport) instead of crashing the process.
import { events, type QUICConnection, type QUICStream } from '@matrixai/quic';
import type { Logger } from '../../src/logger.js';
import { toError } from '../../src/errors.js';
import { asEvented, connectionInternals, EVENT_ERROR } from './library-internals.js';

/** Replaces the rethrowing 'EventError' handler of a library object with `onError`, which must not throw. */
export function guardEventErrors(target: object, onError: (error: Error) => void): void {
  asEvented(target).addEventListener(EVENT_ERROR, (event) => {
    try {
      onError(toError(event.detail));
    } catch {
      // A throwing guard would loop back into EventError; there is nothing left to report to.
    }
  });
}

/** Per-connection state of the guards, created when the connection enters the socket's map. */
export class ConnectionGuard {
  private started = false;
  private stopping = false;
  private released = false;
  private deferredStreams = false;
  private readonly afterRecvListeners = new Set<() => void>();
  private originalProcessStreams: () => void = () => {};

  constructor(
    readonly connection: QUICConnection,
    private readonly logger: Logger,
  ) {
    const evented = asEvented(connection);
    evented.addEventListener(events.EventQUICConnectionStarted.name, () => {
      this.started = true;
    });
    evented.addEventListener(events.EventQUICConnectionStop.name, () => {
      this.stopping = true;
    });
    guardEventErrors(connection, (error) => this.failConnection(error));
    this.wrapLibraryMethods();
  }

  /** Whether stream processing was held back since the connection was registered. */
  get heldStreams(): boolean {
    return this.deferredStreams;
  }

  /**
   * Lets the connection create QUICStream objects for peer streams. Call it once the stream
   * listener is attached; streams that arrived earlier are processed now.
   */
  releaseStreams(): void {
    if (this.released) return;
    this.released = true;
    if (!this.deferredStreams || !this.started || this.stopping) return;
    this.logger.debug('processing peer streams that arrived during the handshake');
    this.processStreamsSafely();
    void connectionInternals(this.connection).send();
  }

  /** Registers a callback run after every datagram the connection has processed. */
  onAfterRecv(listener: () => void): () => void {
    this.afterRecvListeners.add(listener);
    return () => this.afterRecvListeners.delete(listener);
  }

  private wrapLibraryMethods(): void {
    const internals = connectionInternals(this.connection);
    const connection = this.connection;
    this.originalProcessStreams = internals.processStreams.bind(connection);
    const originalSend = internals.send.bind(connection);
    const originalRecv = internals.recv.bind(connection);

    internals.processStreams = () => {
      if (this.stopping) return;
      if (!this.released || !this.started) {
        this.deferredStreams = true;
        return;
      }
      this.processStreamsSafely();
    };

    // The library dispatches an error event before send() throws, so the connection is already
    // closing; the rejection only matters because the connection timer calls send() unawaited.
    internals.send = async () => {
      try {
        await originalSend();
      } catch (error) {
        this.logger.debug({ err: error }, 'QUIC send failed on a closing connection');
      }
    };

    internals.recv = async (data, remoteInfo) => {
      await originalRecv(data, remoteInfo);
      for (const listener of this.afterRecvListeners) listener();
    };

    // Every QUICStream of this connection, including ones the transport never sees, gets a guard.
    const streamMap = internals.streamMap;
    const originalSet = streamMap.set.bind(streamMap);
    streamMap.set = (streamId: number, stream: QUICStream) => {
      guardEventErrors(stream, (error) => {
        this.logger.warn({ err: error, streamId }, 'QUIC stream failed inside the library; cancelling it');
        try {
          stream.cancel(error);
        } catch (cancelError) {
          this.logger.debug({ err: cancelError, streamId }, 'cancelling a failed QUIC stream failed');
        }
      });
      return originalSet(streamId, stream);
    };
  }

  private processStreamsSafely(): void {
    try {
      this.originalProcessStreams();
    } catch (error) {
      this.failConnection(toError(error));
    }
  }

  private failConnection(error: Error): void {
    this.logger.warn({ err: error }, 'QUIC connection failed inside the library; closing it');
    if (this.stopping) return;
    this.connection
      .stop({ isApp: false, errorCode: 1 /* INTERNAL_ERROR, RFC 9000 section 20.1 */, force: true })
      .catch((stopError: unknown) => this.logger.debug({ err: stopError }, 'stopping a failed QUIC connection failed'));
  }
}

const guards = new WeakMap<QUICConnection, ConnectionGuard>();

export function installConnectionGuard(connection: QUICConnection, logger: Logger): ConnectionGuard {
  let guard = guards.get(connection);
  if (!guard) {
    guard = new ConnectionGuard(connection, logger);
    guards.set(connection, guard);
  }
  return guard;
}

export function connectionGuard(connection: QUICConnection): ConnectionGuard | undefined {
  return guards.get(connection);
}
