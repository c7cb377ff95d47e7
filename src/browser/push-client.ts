// The browser push client: walks the transport ladder, authenticates with a hello, receives and
// acks pushes (deduplicated by seq), publishes upstream, pings after idle silence, and reconnects
// with back-off and resume. It mirrors the Node client (src/client/client.ts) and shares its
// environment-free parts: the receive tracker, back-off, heartbeat, publisher and frame codec.
import { Backoff, BACKOFF_DEFAULTS } from '../client/backoff.js';
import { UpstreamPublisher, type PublishOptions, type PublishReceipt } from '../client/publisher.js';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import { decodeFrame, encodeFrame, unbatch } from '../codec/frame-codec.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../codec/stream-decoder.js';
import { CloseCode, Platform, PROTOCOL_VERSION, ResumeStatus, type Frame, type Hello, type Push, type Welcome } from '../codec/proto.js';
import { ConnectionClosedError, FrameTooLargeError, ProtocolError, PushlabError, TransportError, toError } from '../errors.js';
import { seededRandom } from '../random.js';
import { connectStep, createBinding, type Binding } from './connect-step.js';
import { TypedEmitter } from './emitter.js';
import { networkEvents, randomInstanceId } from './environment.js';
import { NotConnectedError, TransportSkippedError } from './errors.js';
import { BROWSER_LINKS, DEFAULT_LADDER } from './links/index.js';
import { Liveness } from './liveness.js';
import type { FrameChannel, LinkHandler, LinkOpener } from './links/link.js';
import { silentBrowserLogger, type BrowserLogger } from './logger.js';
import { BROWSER_CLIENT_DEFAULTS, type ConnectPushOptions } from './options.js';
import { ReceiveState } from './receive-state.js';
import { resumeStoreFor } from './resume-store.js';
import { emptyStats, type BrowserClientEvents, type BrowserClientState, type BrowserClientStats } from './state.js';

/** Close codes after which reconnecting would only repeat the failure or fight a newer session. */
const TERMINAL_CODES = new Set<CloseCode>([CloseCode.SESSION_REPLACED, CloseCode.AUTH_FAILED]);

export class BrowserPushClient extends TypedEmitter<BrowserClientEvents> {
  readonly instanceId: string;
  readonly stats: BrowserClientStats = emptyStats();
  private stateValue: BrowserClientState = { kind: 'idle' };
  private readonly clock: Clock;
  private readonly logger: BrowserLogger;
  private readonly ladder: readonly string[];
  private readonly openers: Readonly<Record<string, LinkOpener>>;
  private readonly backoff: Backoff;
  private readonly receiver: ReceiveState;
  private readonly publisher: UpstreamPublisher;
  private readonly liveness: Liveness;
  private readonly maxFrameSize: number;
  private binding: Binding | null = null;
  private attemptCounter = 0;
  private currentAttempt = 0;
  private abort: AbortController | null = null;
  private backoffTimer: TimerHandle | null = null;
  private serverMaxFrameSize = 0;
  private stopped = false;

  constructor(private readonly options: ConnectPushOptions) {
    super();
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentBrowserLogger;
    this.ladder = options.transports ?? DEFAULT_LADDER;
    if (this.ladder.length === 0) throw new RangeError('transports must name at least one transport');
    this.openers = { ...BROWSER_LINKS, ...options.links };
    this.instanceId = randomInstanceId();
    this.backoff = new Backoff({ ...BACKOFF_DEFAULTS, ...options.backoff }, options.random ?? seededRandom(crypto.getRandomValues(new Uint32Array(1))[0]!));
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.publisher = new UpstreamPublisher(this.clock, options.publishRetryMs ?? BROWSER_CLIENT_DEFAULTS.publishRetryMs, this.maxFrameSize);
    this.liveness = new Liveness(this.clock, { sendFrame: (frame) => this.sendFrame(frame), onPeerDead: (silenceMs) => this.onPeerDead(silenceMs), onRtt: (sample) => this.emit('rtt', sample) }, this.stats);
    this.receiver = new ReceiveState(resumeStoreFor(options, this.logger), this.clock, this.stats);
  }

  get state(): BrowserClientState {
    return this.stateValue;
  }

  /** Highest seq below which every message arrived; the resume position. */
  get lastSeq(): number {
    return this.receiver.lastSeq;
  }

  get pendingPublishes(): number {
    return this.publisher.pendingCount;
  }

  /** Starts the first attempt; later ones follow by themselves until close(). */
  start(): void {
    if (this.stateValue.kind !== 'idle' || this.stopped) return;
    networkEvents()?.addEventListener('online', this.onOnline);
    void this.dial();
  }

  /** Sends a message upstream; resolves when the gateway acknowledges it (once, across retries). */
  publish(payload: Uint8Array | string, options?: PublishOptions): Promise<PublishReceipt> {
    if (this.stopped) return Promise.reject(new ConnectionClosedError(CloseCode.NORMAL, 'client is closed'));
    const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
    return this.publisher.publish(bytes, options);
  }

  /** Measures one round trip with a ping now; rejects when not connected or without a pong in time. */
  ping(timeoutMs: number = BROWSER_CLIENT_DEFAULTS.probeTimeoutMs): Promise<number> {
    if (this.stateValue.kind !== 'connected') return Promise.reject(new NotConnectedError(`cannot ping while ${this.stateValue.kind}`));
    return this.liveness.probe(timeoutMs);
  }

  /** Closes the session for good with NORMAL; resolves once the Close frame left or the grace ran out. */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.receiver.flushAck();
    const link = this.binding?.connected ? this.binding.link : null;
    this.teardown('client closed');
    let closing: Promise<void> = Promise.resolve();
    if (link) {
      link.send(encodeFrame({ close: { code: CloseCode.NORMAL, reason: 'client closed' } }));
      closing = link.close(this.options.closeGraceMs ?? BROWSER_CLIENT_DEFAULTS.closeGraceMs);
    }
    this.terminate(CloseCode.NORMAL, 'client closed');
    await closing;
  }

  /** Drops the current link without a close frame, as a network change would, and reconnects. */
  dropConnection(): void {
    const link = this.binding?.link;
    if (!link || !this.binding?.connected) return;
    this.logger.info({ transport: link.transport }, 'connection dropped by the application');
    this.teardown('connection dropped');
    link.destroy();
    this.scheduleReconnect('connection dropped by the application');
  }

  private onPeerDead(silenceMs: number): void {
    this.logger.info({ silenceMs }, 'gateway silent past heartbeat timeout, reconnecting');
    this.emit('warning', new ConnectionClosedError(CloseCode.HEARTBEAT_TIMEOUT, `no frame for ${silenceMs} ms`));
    this.dropConnection();
  }

  // Attempts and the transport ladder

  private setState(next: BrowserClientState): void {
    const previous = this.stateValue;
    this.stateValue = next;
    this.logger.debug({ from: previous.kind, to: next.kind, state: next }, 'client state');
    this.emit('state', next, previous);
  }

  private async dial(): Promise<void> {
    if (this.stopped) return;
    const attempt = ++this.attemptCounter;
    this.currentAttempt = attempt;
    const abort = new AbortController();
    this.abort = abort;
    this.setState({ kind: 'connecting', attempt, transport: this.ladder[0]! });
    let token: string;
    try {
      token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    } catch (error) {
      if (attempt !== this.currentAttempt || this.stopped) return;
      this.stats.failedAttempts += 1;
      const problem = new TransportError('TRANSPORT_FAILED', `fetching the hello token failed: ${toError(error).message}`, { cause: error });
      this.logger.warn({ attempt, err: problem }, 'no token for this attempt');
      this.emit('warning', problem);
      this.scheduleReconnect(problem.message);
      return;
    }
    if (attempt !== this.currentAttempt || this.stopped) return;

    for (let index = 0; index < this.ladder.length; index++) {
      const transport = this.ladder[index]!;
      if (index > 0) this.setState({ kind: 'connecting', attempt, transport });
      const error = await this.tryTransport(transport, token, attempt, abort.signal);
      // close() or a newer attempt took over while this one waited.
      if (attempt !== this.currentAttempt || this.stopped) return;
      if (error === null) return;

      if (error instanceof ConnectionClosedError && TERMINAL_CODES.has(error.closeCode)) {
        this.terminate(error.closeCode, error.message);
        return;
      }
      const next = this.ladder[index + 1] ?? null;
      this.stats.fallbacks += 1;
      this.logger.warn({ transport, next, err: error }, next ? `${transport} unavailable, trying ${next}` : `${transport} unavailable, no transport left`);
      this.emit('fallback', { transport, next, error });
    }
    this.stats.failedAttempts += 1;
    this.scheduleReconnect(`no transport of [${this.ladder.join(', ')}] connected`);
  }

  private async tryTransport(transport: string, token: string, attempt: number, signal: AbortSignal): Promise<PushlabError | null> {
    const open = this.openers[transport];
    if (open === undefined) return new TransportSkippedError(transport, 'unknown', `no such transport; known: ${Object.keys(this.openers).join(', ')}`);
    const binding = createBinding(attempt, transport);
    this.binding = binding;
    const error = await connectStep({
      binding,
      open,
      context: {
        gatewayHttpUrl: this.options.gatewayHttpUrl,
        maxFrameSize: this.maxFrameSize,
        handler: this.handlerFor(binding),
        logger: this.logger,
        fetch: this.options.fetch ?? globalThis.fetch.bind(globalThis),
        webTransport: this.options.webTransport ?? {},
      },
      hello: encodeFrame({ hello: this.hello(token, attempt) }),
      timeoutMs: this.options.connectTimeoutMs ?? BROWSER_CLIENT_DEFAULTS.connectTimeoutMs,
      clock: this.clock,
      signal,
    });
    if (error && this.binding === binding) this.binding = null;
    return error;
  }

  private hello(token: string, attempt: number): Hello {
    return {
      protocolVersion: PROTOCOL_VERSION,
      token,
      userId: this.options.userId,
      deviceId: this.options.deviceId,
      platform: this.options.platform ?? Platform.PLATFORM_WEB,
      clientInstance: this.instanceId,
      attempt,
      resumeSessionId: this.receiver.sessionId,
      lastSeq: this.receiver.lastSeq,
    };
  }

  private handlerFor(binding: Binding): LinkHandler {
    return {
      onFrame: (frame, channel) => this.onFrame(binding, frame, channel),
      onError: (error) => this.onLinkError(binding, error),
      onClose: (info) => this.onLinkClosed(binding, info.error),
    };
  }

  private scheduleReconnect(reason: string): void {
    if (this.stopped) return;
    // Any later callback from the abandoned attempt now fails the attempt-id check.
    this.currentAttempt = 0;
    this.abort?.abort();
    this.abort = null;
    const delayMs = this.backoff.next();
    this.stats.reconnects += 1;
    // The timer exists before listeners hear of the back-off, so one that reconnects at once
    // (an 'online' event, say) cancels it instead of leaving a second dial behind.
    this.backoffTimer = this.clock.setTimeout(() => {
      this.backoffTimer = null;
      void this.dial();
    }, delayMs);
    this.setState({ kind: 'backoff', delayMs, reason });
  }

  /**
   * Starts the next attempt at once when the browser regains a network, because waiting out the
   * rest of the back-off delay would only postpone a reconnect that is now likely to work.
   */
  private readonly onOnline = (): void => {
    if (this.stateValue.kind !== 'backoff' || this.stopped) return;
    this.logger.info({}, 'network is back, reconnecting without waiting');
    this.backoffTimer?.cancel();
    this.backoffTimer = null;
    void this.dial();
  };

  /** Forgets the current link: heartbeat, pending ack, probes, publisher. The caller ends the link. */
  private teardown(reason: string): void {
    if (this.binding) this.binding.abandoned = true;
    this.binding = null;
    this.liveness.stop(reason);
    this.receiver.detach();
    this.publisher.detach();
  }

  private terminate(code: CloseCode, reason: string): void {
    this.stopped = true;
    networkEvents()?.removeEventListener('online', this.onOnline);
    this.currentAttempt = 0;
    this.abort?.abort();
    this.backoffTimer?.cancel();
    this.teardown(reason);
    const error = new ConnectionClosedError(code, reason);
    this.publisher.rejectAll(error);
    this.setState({ kind: 'closed', code, reason });
    this.emit('closed', error);
  }

  // Link events

  private onLinkClosed(binding: Binding, error?: Error): void {
    if (binding !== this.binding) return;
    if (!binding.connected) {
      binding.settle(error ?? new TransportError('TRANSPORT_FAILED', `${binding.transport} link closed before the welcome`));
      return;
    }
    this.logger.info({ transport: binding.transport, err: error }, 'connection lost');
    this.emit('warning', new TransportError('TRANSPORT_FAILED', `${binding.transport} connection lost${error ? `: ${error.message}` : ''}`, { cause: error }));
    this.teardown('connection lost');
    this.scheduleReconnect('connection lost');
  }

  private onLinkError(binding: Binding, error: Error): void {
    if (binding !== this.binding) return;
    const code = error instanceof FrameTooLargeError ? CloseCode.FRAME_TOO_LARGE : CloseCode.PROTOCOL_ERROR;
    const problem = error instanceof PushlabError ? error : new ConnectionClosedError(code, error.message);
    if (!binding.connected) {
      binding.settle(problem);
      return;
    }
    this.emit('warning', problem);
    const link = binding.link!;
    this.teardown(problem.message);
    link.send(encodeFrame({ close: { code, reason: error.message } }));
    void link.close(this.options.closeGraceMs ?? BROWSER_CLIENT_DEFAULTS.closeGraceMs);
    this.scheduleReconnect(problem.message);
  }

  private onFrame(binding: Binding, bytes: Uint8Array, channel: FrameChannel): void {
    if (binding !== this.binding) return;
    if (channel === 'datagram') this.stats.datagramsReceived += 1;
    this.liveness.noteReceived();
    let frames: Frame[];
    try {
      frames = unbatch(decodeFrame(bytes));
    } catch (error) {
      this.onLinkError(binding, toError(error));
      return;
    }
    for (const frame of frames) {
      if (binding !== this.binding) return;
      if (binding.connected) this.handleFrame(binding, frame, channel);
      else this.handleFirstFrame(binding, frame);
    }
  }

  /** Before the welcome only a welcome or a close may arrive. */
  private handleFirstFrame(binding: Binding, frame: Frame): void {
    if (frame.body === 'welcome') {
      this.onWelcome(binding, frame.welcome as Welcome);
      return;
    }
    if (frame.body === 'close') {
      binding.settle(new ConnectionClosedError(frame.close!.code ?? CloseCode.CLOSE_CODE_UNSPECIFIED, frame.close!.reason ?? ''));
      return;
    }
    binding.settle(new ProtocolError(`expected a welcome, got a ${frame.body} frame`));
  }

  private handleFrame(binding: Binding, frame: Frame, channel: FrameChannel): void {
    switch (frame.body) {
      case 'push':
        this.onPush(frame.push as Push, channel);
        return;
      case 'publishAck':
        this.publisher.onAck(frame.publishAck!);
        return;
      case 'pong':
        this.liveness.onPong(Number(frame.pong!.nonce));
        return;
      case 'ping':
        this.sendFrame(encodeFrame({ pong: frame.ping! }));
        return;
      case 'close':
        this.onCloseFrame(binding, frame.close!.code ?? CloseCode.CLOSE_CODE_UNSPECIFIED, frame.close!.reason ?? '');
        return;
      default:
        this.onLinkError(binding, new ProtocolError(`unexpected ${frame.body} frame in an open session`));
    }
  }

  private onWelcome(binding: Binding, welcome: Welcome): void {
    binding.connected = true;
    const outcome = this.receiver.onWelcome(welcome, (frame) => this.sendFrame(frame));
    if (outcome.gap) {
      this.stats.gaps += 1;
      this.emit('gap', outcome.gap);
    }
    this.serverMaxFrameSize = welcome.maxFrameSize ?? 0;
    this.backoff.reset();

    this.liveness.start(welcome.heartbeat);
    const link = binding.link!;
    const sessionId = this.receiver.sessionId;
    this.logger.info({ transport: link.transport, url: link.url, sessionId, resume: ResumeStatus[outcome.status] }, 'connected');
    this.setState({ kind: 'connected', attempt: binding.attempt, transport: link.transport, url: link.url, sessionId, epoch: Number(welcome.epoch ?? 0) });
    this.publisher.attach((frame) => this.sendFrame(frame), outcome.resumed);
    this.emit('welcome', welcome);
    binding.settle();
  }

  private onPush(push: Push, channel: FrameChannel): void {
    const message = this.receiver.onPush(push, channel);
    if (message) this.emit('message', message);
  }

  private onCloseFrame(binding: Binding, code: CloseCode, reason: string): void {
    this.logger.info({ code: CloseCode[code], reason }, 'gateway closed the session');
    const link = binding.link!;
    this.teardown(`gateway closed the session with ${CloseCode[code]}`);
    void link.close(this.options.closeGraceMs ?? BROWSER_CLIENT_DEFAULTS.closeGraceMs);
    if (code === CloseCode.FRAME_TOO_LARGE) {
      // Resending the frame that caused this would fail the same way forever: report it instead.
      this.publisher.rejectOversized(this.serverMaxFrameSize || this.maxFrameSize);
    }
    if (TERMINAL_CODES.has(code)) {
      this.terminate(code, reason);
      return;
    }
    this.emit('warning', new ConnectionClosedError(code, reason));
    this.scheduleReconnect(`gateway closed the session with ${CloseCode[code]}`);
  }

  // Sending

  private sendFrame(frame: Uint8Array): void {
    const link = this.binding?.link;
    if (!link) return;
    link.send(frame);
    this.liveness.noteSent();
  }
}
