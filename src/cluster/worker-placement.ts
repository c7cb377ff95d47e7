// The worker side of a multi-process gateway. Each user is owned by one worker (ownerIndex); a
// connection accepted by another worker is handed to the owner after its hello, and its frames
// are relayed through the primary. Publishes for users owned elsewhere travel the same way.
import type { Hello } from '../codec/proto.js';
import { CloseCode } from '../codec/proto.js';
import { FrameTooLargeError, PushlabError, toError } from '../errors.js';
import type { Gateway } from '../gateway/gateway.js';
import type { PublishResult } from '../gateway/types.js';
import type { Logger } from '../logger.js';
import { ownerIndex, type SessionPlacement } from '../routing/placement.js';
import type { RoutedMessage } from '../routing/router.js';
import { sendCloseAndEnd } from '../session/close.js';
import type { TransportConnection } from '../transport/types.js';
import type { ClusterBody, ClusterEnvelope } from './messages.js';
import { RelayedConnection } from './relayed-connection.js';

/** How long a publish routed to another worker may take before it fails. */
const ROUTE_TIMEOUT_MS = 10_000;

interface PendingRoute {
  resolve(result: PublishResult): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class WorkerPlacement implements SessionPlacement {
  private gateway: Gateway | null = null;
  /** Connections this worker accepted and handed to another owner, by relay id. */
  private readonly outbound = new Map<string, TransportConnection>();
  /** Connections other workers handed to this owner, by relay id. */
  private readonly inbound = new Map<string, RelayedConnection>();
  private readonly routes = new Map<number, PendingRoute>();
  private nextRouteId = 1;

  constructor(
    readonly index: number,
    readonly workers: number,
    private readonly logger: Logger,
    private readonly post: (envelope: ClusterEnvelope) => void,
  ) {}

  attach(gateway: Gateway): void {
    this.gateway = gateway;
  }

  owns(userId: string): boolean {
    return ownerIndex(userId, this.workers) === this.index;
  }

  handOff(connection: TransportConnection, hello: Hello): void {
    const owner = ownerIndex(hello.userId ?? '', this.workers);
    const conn = `${this.index}:${connection.id}`;
    this.outbound.set(conn, connection);
    connection.setHandler({
      onFrame: (frame) => this.post({ to: owner, body: { t: 'frame', conn, frame } }),
      onError: (error) => {
        // Framing is checked here, where the socket is; the owner only learns that it closed.
        const code = error instanceof FrameTooLargeError ? CloseCode.FRAME_TOO_LARGE : CloseCode.PROTOCOL_ERROR;
        this.gateway?.metrics.protocolErrors.inc({ transport: connection.transport, kind: code === CloseCode.FRAME_TOO_LARGE ? 'frame_too_large' : 'malformed' });
        sendCloseAndEnd(connection, code, error.message);
      },
      onDrain: () => {},
      onClose: () => {
        this.outbound.delete(conn);
        this.post({ to: owner, body: { t: 'close', conn, mode: 'closed' } });
      },
    });
    this.post({ to: owner, body: { t: 'handoff', conn, hello, transport: connection.transport, remote: connection.remoteAddress, maxFrameSize: connection.maxFrameSize } });
  }

  route(message: RoutedMessage): Promise<PublishResult> {
    const id = this.nextRouteId++;
    const owner = ownerIndex(message.userId, this.workers);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.routes.delete(id);
        reject(new PushlabError('PUBLISH_REJECTED', `worker ${owner} did not respond to a routed publish within ${ROUTE_TIMEOUT_MS} ms`));
      }, ROUTE_TIMEOUT_MS);
      this.routes.set(id, { resolve, reject, timer });
      this.post({ to: owner, body: { t: 'route', id, message } });
    });
  }

  /** Handles one message the primary forwarded to this worker. */
  receive(envelope: ClusterEnvelope): void {
    const from = envelope.from;
    const body = envelope.body;
    switch (body.t) {
      case 'handoff':
        this.adopt(body, typeof from === 'number' ? from : -1);
        return;
      case 'frame':
        this.inbound.get(body.conn)?.deliver(body.frame);
        this.outbound.get(body.conn)?.send(body.frame);
        return;
      case 'close':
        this.onClose(body);
        return;
      case 'route':
        this.answerRoute(body.id, body.message, from ?? 'primary');
        return;
      case 'route-result':
        this.settleRoute(body);
        return;
      case 'health':
        this.post({ to: from ?? 'primary', body: { t: 'health-result', id: body.id, sessions: this.gateway?.sessionCount ?? 0 } });
        return;
      default:
        return;
    }
  }

  private adopt(body: Extract<ClusterBody, { t: 'handoff' }>, origin: number): void {
    if (!this.gateway || origin < 0) return;
    const connection = new RelayedConnection(body.conn, origin, body.transport, body.remote, body.maxFrameSize, this.post);
    // Removed from the map when the origin reports the socket closed, which it always does.
    this.inbound.set(body.conn, connection);
    this.gateway.adoptConnection(connection, body.hello);
  }

  private onClose(body: Extract<ClusterBody, { t: 'close' }>): void {
    if (body.mode === 'closed') {
      this.inbound.get(body.conn)?.peerClosed();
      this.inbound.delete(body.conn);
      return;
    }
    const connection = this.outbound.get(body.conn);
    if (!connection) return;
    if (body.mode === 'destroy') connection.destroy();
    else connection.close();
  }

  private answerRoute(id: number, message: RoutedMessage, replyTo: number | 'primary'): void {
    const gateway = this.gateway;
    if (!gateway) return;
    gateway
      .routeMessage(message)
      .then((result) => this.post({ to: replyTo, body: { t: 'route-result', id, result } }))
      .catch((error: unknown) => {
        const failure = toError(error);
        this.logger.error({ err: failure, userId: message.userId }, 'routed publish failed');
        this.post({ to: replyTo, body: { t: 'route-result', id, error: { name: failure.name, code: failure instanceof PushlabError ? failure.code : 'INTERNAL', message: failure.message } } });
      });
  }

  private settleRoute(body: Extract<ClusterBody, { t: 'route-result' }>): void {
    const pending = this.routes.get(body.id);
    if (!pending) return;
    this.routes.delete(body.id);
    clearTimeout(pending.timer);
    if (body.result) pending.resolve(body.result);
    else pending.reject(new PushlabError('PUBLISH_REJECTED', body.error?.message ?? 'routed publish failed'));
  }
}
