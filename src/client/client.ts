// The Node client: connects over a named transport, authenticates, receives and acks pushes,
// publishes upstream, detects a dead link by heartbeat, and reconnects with back-off and resume.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import { decodeFrame, encodeFrame, unbatch } from '../codec/frame-codec.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../codec/stream-decoder.js';
import { CloseCode, Platform, PROTOCOL_VERSION, ResumeStatus, type Frame, type Push, type Welcome } from '../codec/proto.js';
import { ConnectionClosedError, FrameTooLargeError, PushlabError, TransportError, toError } from '../errors.js';
import { Heartbeat, type HeartbeatHost } from '../heartbeat/heartbeat.js';
import { FixedHeartbeatPolicy, type HeartbeatPolicy } from '../heartbeat/policy.js';
import { silentLogger, type Logger } from '../logger.js';
import { seededRandom, type Random } from '../random.js';
import { Coalescer, COALESCING_DEFAULTS, type CoalescingOptions } from '../session/coalescer.js';
import { sendCloseAndEnd } from '../session/close.js';
import type { TlsClientMaterial, Transport, TransportConnection } from '../transport/types.js';
import { Backoff, BACKOFF_DEFAULTS, type BackoffOptions } from './backoff.js';
import { UpstreamPublisher, type PublishOptions, type PublishReceipt } from './publisher.js';
import { ReceiveTracker } from './receive-tracker.js';
import type { ClientState } from './state.js';
import { ClientStats } from './stats.js';

export interface PushClientOptions {
  transport: Transport;
  host: string;
  port: number;
  tls?: TlsClientMaterial;
  transportSettings?: Record<string, unknown>;
  userId: string;
  deviceId: string;
  /** The hello token, or a function that fetches a fresh one before each attempt. */
  token: string | (() => string | Promise<string>);
  platform?: Platform;
  maxFrameSize?: number;
  /** Time for one attempt: dial plus welcome, in ms; default 10 s. */
  connectTimeoutMs?: number;
  backoff?: Partial<BackoffOptions>;
  /** Unacked publishes are sent again after this many ms; default 1 s. */
  publishRetryMs?: number;
  coalescing?: Partial<CoalescingOptions>;
  /** Builds the heartbeat policy from the parameters in the gateway's welcome; fixed by default. */
  heartbeatPolicy?: (params: { intervalMs: number; timeoutMs: number }) => HeartbeatPolicy;
  clock?: Clock;
  random?: Random;
  logger?: Logger;
}

export interface ReceivedMessage {
  seq: number;
  messageId: string;
  high: boolean;
  payload: Uint8Array;
  publishedAtMs: number;
  replay: boolean;
}

export interface PushClientEvents {
  state: [state: ClientState, previous: ClientState];
  welcome: [welcome: Welcome];
  message: [message: ReceivedMessage];
  gap: [range: { from: number; to: number }];
  closed: [error: ConnectionClosedError];
  /** Non-fatal problems (a failed attempt, a rejected publish); the client carries on. */
  warning: [error: PushlabError];
}

/** Close codes after which reconnecting would only repeat the failure or fight a newer session. */
const TERMINAL_CODES = new Set<CloseCode>([CloseCode.SESSION_REPLACED, CloseCode.AUTH_FAILED]);

export class PushClient extends EventEmitter<PushClientEvents> implements HeartbeatHost {
  readonly stats = new ClientStats();
  readonly instanceId = randomUUID();
  private stateValue: ClientState = { kind: 'idle' };
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly backoff: Backoff;
  private readonly receiver = new ReceiveTracker();
  private readonly publisher: UpstreamPublisher;
  private readonly maxFrameSize: number;
  private attemptCounter = 0;
  private currentAttempt = 0;
  private connection: TransportConnection | null = null;
  private coalescer: Coalescer | null = null;
  private heartbeat: Heartbeat | null = null;
  private attemptTimer: TimerHandle | null = null;
  private backoffTimer: TimerHandle | null = null;
  private abort: AbortController | null = null;
  private sessionId = '';
  private serverMaxFrameSize = 0;
  private ackScheduled = false;
  private attemptStartedAt = 0;
  private stopped = false;

  constructor(private readonly options: PushClientOptions) {
    super();
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? silentLogger()).child({ component: 'client', deviceId: options.deviceId });
    this.backoff = new Backoff({ ...BACKOFF_DEFAULTS, ...options.backoff }, options.random ?? seededRandom(Date.now()));
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.publisher = new UpstreamPublisher(this.clock, options.publishRetryMs ?? 1_000, this.maxFrameSize);
  }

  get state(): ClientState {
    return this.stateValue;
  }

  /** Highest seq below which every message arrived; the resume position. */
  get lastSeq(): number {
    return this.receiver.cumulative;
  }

  get pendingPublishes(): number {
    return this.publisher.pendingCount;
  }

  get publishRetries(): number {
    return this.publisher.retries;
  }

  /** Starts connecting; resolves at the first welcome, rejects if the client closes before it. */
  connect(): Promise<Welcome> {
    return new Promise((resolve, reject) => {
      const onWelcome = (welcome: Welcome): void => {
        this.off('closed', onClosed);
        resolve(welcome);
      };
      const onClosed = (error: ConnectionClosedError): void => {
        this.off('welcome', onWelcome);
        reject(error);
      };
      this.once('welcome', onWelcome);
      this.once('closed', onClosed);
      if (this.stateValue.kind === 'idle') void this.dial();
    });
  }

  publish(payload: Uint8Array, options?: PublishOptions): Promise<PublishReceipt> {
    if (this.stopped) return Promise.reject(new ConnectionClosedError(CloseCode.NORMAL, 'client is closed'));
    return this.publisher.publish(payload, options);
  }

  /** Closes the session for good with NORMAL; pending publishes are rejected. */
  close(): void {
    if (this.stopped) return;
    const connection = this.connection;
    this.coalescer?.flush();
    this.teardownConnection();
    if (connection) sendCloseAndEnd(connection, CloseCode.NORMAL, 'client closed');
    this.terminate(CloseCode.NORMAL, 'client closed');
  }

  /** Drops the current connection without a close frame, as a network change would, and reconnects. */
  dropConnection(): void {
    const connection = this.connection;
    if (!connection) return;
    this.logger.info('connection dropped by the application');
    this.teardownConnection();
    connection.destroy();
    this.scheduleReconnect();
  }

  // HeartbeatHost

  sendPing(nonce: number, sentAtMs: number): void {
    const frame = encodeFrame({ ping: { nonce, sentAtMs } });
    this.stats.heartbeatBytes += frame.length;
    this.connection?.sendUnreliable(frame);
  }

  onPeerDead(silenceMs: number): void {
    this.stats.heartbeatTimeouts += 1;
    this.logger.info({ silenceMs }, 'gateway silent past heartbeat timeout, reconnecting');
    this.emitWarning(new ConnectionClosedError(CloseCode.HEARTBEAT_TIMEOUT, `no frame for ${silenceMs} ms`));
    this.dropConnection();
  }

  // Connection lifecycle

  private setState(next: ClientState): void {
    const previous = this.stateValue;
    this.stateValue = next;
    this.logger.debug({ from: previous.kind, to: next.kind, state: next }, 'client state');
    this.emit('state', next, previous);
  }

  private async dial(): Promise<void> {
    if (this.stopped) return;
    const attempt = ++this.attemptCounter;
    this.currentAttempt = attempt;
    this.abort = new AbortController();
    this.attemptStartedAt = this.clock.now();
    this.setState({ kind: 'connecting', attempt });
    const timeoutMs = this.options.connectTimeoutMs ?? 10_000;
    this.attemptTimer = this.clock.setTimeout(() => this.failAttempt(attempt, new TransportError('CONNECT_TIMEOUT', `attempt ${attempt} got no welcome within ${timeoutMs} ms`)), timeoutMs);

    let connection: TransportConnection;
    try {
      const token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
      connection = await this.options.transport.dial({
        host: this.options.host,
        port: this.options.port,
        maxFrameSize: this.maxFrameSize,
        tls: this.options.tls,
        logger: this.logger,
        signal: this.abort.signal,
        settings: this.options.transportSettings,
      });
      if (attempt !== this.currentAttempt || this.stopped) {
        // An abandoned attempt opened late: it must never carry a hello.
        this.stats.staleAttemptsClosed += 1;
        this.logger.debug({ attempt, current: this.currentAttempt }, 'closing a connection from an abandoned attempt');
        connection.destroy();
        return;
      }
      this.useConnection(connection, attempt, token);
    } catch (error) {
      this.failAttempt(attempt, error instanceof PushlabError ? error : new TransportError('TRANSPORT_FAILED', toError(error).message, { cause: error }));
    }
  }

  private useConnection(connection: TransportConnection, attempt: number, token: string): void {
    this.connection = connection;
    this.coalescer = new Coalescer({ ...COALESCING_DEFAULTS, ...this.options.coalescing }, connection.maxFrameSize, this.clock, (frame) => {
      connection.send(frame);
      this.heartbeat?.noteSent();
    });
    connection.setHandler({
      onFrame: (bytes) => this.onFrame(connection, bytes),
      onError: (error) => this.onConnectionError(connection, error),
      onDrain: () => {},
      onClose: (info) => this.onConnectionClose(connection, info.error),
    });
    connection.send(
      encodeFrame({
        hello: {
          protocolVersion: PROTOCOL_VERSION,
          token,
          userId: this.options.userId,
          deviceId: this.options.deviceId,
          platform: this.options.platform ?? Platform.PLATFORM_UNSPECIFIED,
          clientInstance: this.instanceId,
          attempt,
          resumeSessionId: this.sessionId,
          lastSeq: this.receiver.cumulative,
        },
      }),
    );
  }

  private failAttempt(attempt: number, error: PushlabError): void {
    if (attempt !== this.currentAttempt || this.stateValue.kind !== 'connecting') return;
    this.logger.info({ attempt, err: error }, 'connection attempt failed');
    this.stats.failedAttempts += 1;
    this.emitWarning(error);
    const connection = this.connection;
    this.teardownConnection();
    connection?.destroy();
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    // Any later callback from the abandoned attempt now fails the attempt-id check.
    this.currentAttempt = 0;
    const delayMs = this.backoff.next();
    this.setState({ kind: 'backoff', delayMs });
    this.backoffTimer = this.clock.setTimeout(() => {
      this.backoffTimer = null;
      void this.dial();
    }, delayMs);
  }

  private teardownConnection(): void {
    this.attemptTimer?.cancel();
    this.attemptTimer = null;
    this.abort?.abort();
    this.abort = null;
    this.heartbeat?.stop();
    this.heartbeat = null;
    this.coalescer?.discard();
    this.coalescer = null;
    this.connection = null;
    this.publisher.detach();
  }

  private terminate(code: CloseCode, reason: string): void {
    this.stopped = true;
    this.backoffTimer?.cancel();
    this.teardownConnection();
    const error = new ConnectionClosedError(code, reason);
    this.publisher.rejectAll(error);
    this.setState({ kind: 'closed', code, reason });
    this.emit('closed', error);
  }

  private onConnectionClose(connection: TransportConnection, error?: Error): void {
    if (connection !== this.connection) return;
    this.logger.info({ err: error }, 'connection closed');
    this.teardownConnection();
    this.scheduleReconnect();
  }

  private onConnectionError(connection: TransportConnection, error: Error): void {
    if (connection !== this.connection) return;
    const code = error instanceof FrameTooLargeError ? CloseCode.FRAME_TOO_LARGE : CloseCode.PROTOCOL_ERROR;
    this.emitWarning(error instanceof PushlabError ? error : new ConnectionClosedError(code, error.message));
    this.teardownConnection();
    sendCloseAndEnd(connection, code, error.message);
    this.scheduleReconnect();
  }

  // Frames

  private onFrame(connection: TransportConnection, bytes: Uint8Array): void {
    if (connection !== this.connection) return;
    this.heartbeat?.noteReceived();
    let frames: Frame[];
    try {
      frames = unbatch(decodeFrame(bytes));
    } catch (error) {
      this.onConnectionError(connection, toError(error));
      return;
    }
    for (const frame of frames) {
      if (connection !== this.connection) return;
      this.handleFrame(connection, frame);
    }
  }

  private handleFrame(connection: TransportConnection, frame: Frame): void {
    switch (frame.body) {
      case 'welcome':
        this.onWelcome(frame.welcome as Welcome);
        return;
      case 'push':
        this.onPush(frame.push as Push);
        return;
      case 'publishAck':
        this.publisher.onAck(frame.publishAck!);
        return;
      case 'pong':
        this.stats.heartbeatBytes += encodeFrame(frame).length;
        this.heartbeat?.notePong(Number(frame.pong!.nonce));
        return;
      case 'ping':
        this.send(encodeFrame({ pong: frame.ping! }));
        return;
      case 'close':
        this.onCloseFrame(connection, frame.close!.code ?? CloseCode.CLOSE_CODE_UNSPECIFIED, frame.close!.reason ?? '');
        return;
      default:
        this.onConnectionError(connection, new ConnectionClosedError(CloseCode.PROTOCOL_ERROR, `unexpected ${frame.body} frame`));
    }
  }

  private onWelcome(welcome: Welcome): void {
    const attempt = this.currentAttempt;
    this.attemptTimer?.cancel();
    this.attemptTimer = null;
    const status = welcome.resume?.status ?? ResumeStatus.NEW;
    const resumed = status !== ResumeStatus.NEW;
    if (!resumed) this.receiver.reset(Number(welcome.inboxBase ?? 0));
    if (status === ResumeStatus.GAP) {
      const range = { from: Number(welcome.resume!.missingFrom), to: Number(welcome.resume!.missingTo) };
      this.receiver.skip(range.from, range.to);
      this.stats.gaps += 1;
      this.emit('gap', range);
    }
    this.sessionId = welcome.sessionId ?? '';
    this.serverMaxFrameSize = welcome.maxFrameSize ?? 0;
    this.backoff.reset();
    this.stats.recordConnect(this.clock.now() - this.attemptStartedAt);

    const params = { intervalMs: welcome.heartbeat?.intervalMs ?? 30_000, timeoutMs: welcome.heartbeat?.timeoutMs ?? 15_000 };
    const policy = this.options.heartbeatPolicy?.(params) ?? new FixedHeartbeatPolicy(params.intervalMs, params.timeoutMs);
    this.heartbeat = new Heartbeat(this, policy, this.clock, { pings: true });
    this.heartbeat.start();
    this.setState({ kind: 'connected', attempt, sessionId: this.sessionId, epoch: Number(welcome.epoch) });
    this.publisher.attach((frame) => this.send(frame), resumed);
    this.emit('welcome', welcome);
  }

  private onPush(push: Push): void {
    const seq = Number(push.seq);
    if (!this.receiver.accept(seq)) {
      this.stats.duplicatesReceived += 1;
    } else {
      this.stats.messagesReceived += 1;
      this.emit('message', {
        seq,
        messageId: push.messageId ?? '',
        high: push.priority === 1,
        payload: push.payload ?? new Uint8Array(),
        publishedAtMs: Number(push.publishedAtMs ?? 0),
        replay: push.replay === true,
      });
    }
    this.scheduleAck();
  }

  private onCloseFrame(connection: TransportConnection, code: CloseCode, reason: string): void {
    this.logger.info({ code: CloseCode[code], reason }, 'gateway closed the session');
    this.teardownConnection();
    connection.close();
    if (code === CloseCode.FRAME_TOO_LARGE) {
      // Resending the frame that caused this would fail the same way forever: report it instead.
      const limit = this.serverMaxFrameSize || this.maxFrameSize;
      this.publisher.rejectOversized(limit);
    }
    if (TERMINAL_CODES.has(code)) {
      this.terminate(code, reason);
      return;
    }
    this.emitWarning(new ConnectionClosedError(code, reason));
    this.scheduleReconnect();
  }

  private scheduleAck(): void {
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    // One ack per event-loop turn covers every push that arrived in it.
    setImmediate(() => {
      this.ackScheduled = false;
      this.send(encodeFrame({ ack: this.receiver.ack() }));
    });
  }

  private send(frame: Uint8Array): void {
    this.coalescer?.add(frame);
  }

  private emitWarning(error: PushlabError): void {
    this.emit('warning', error);
  }
}
