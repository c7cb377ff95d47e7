// Liveness for one connection, on either end. The heartbeat reaches its connection only through
// HeartbeatHost, and time only through a Clock, so tests drive hours of silence on a virtual clock.
//
// Both ends run a watchdog: when nothing has arrived for interval + timeout, the peer is dead. Only
// the pinging end (the client) sends pings, and only after `interval` of send silence, so a busy
// connection carries no heartbeat traffic at all.
import type { Clock, TimerHandle } from '../clock.js';
import type { HeartbeatPolicy } from './policy.js';

export interface HeartbeatHost {
  sendPing(nonce: number, sentAtMs: number): void;
  /** The peer was silent for `silenceMs`; the host closes the connection. Called at most once. */
  onPeerDead(silenceMs: number): void;
}

export interface HeartbeatOptions {
  /** Whether this end sends pings (client) or only watches (gateway). */
  pings: boolean;
}

export class Heartbeat {
  private lastReceivedAt: number;
  private lastSentAt: number;
  private pingTimer: TimerHandle | null = null;
  private watchdog: TimerHandle | null = null;
  private nextNonce = 1;
  private outstanding = new Map<number, number>();
  private running = false;
  pingsSent = 0;

  constructor(
    private readonly host: HeartbeatHost,
    private readonly policy: HeartbeatPolicy,
    private readonly clock: Clock,
    private readonly options: HeartbeatOptions,
  ) {
    this.lastReceivedAt = clock.now();
    this.lastSentAt = clock.now();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.lastReceivedAt = this.clock.now();
    this.lastSentAt = this.clock.now();
    this.armWatchdog();
    if (this.options.pings) this.armPing();
  }

  stop(): void {
    this.running = false;
    this.pingTimer?.cancel();
    this.watchdog?.cancel();
    this.pingTimer = null;
    this.watchdog = null;
  }

  /** Any frame from the peer proves it is alive. */
  noteReceived(): void {
    this.lastReceivedAt = this.clock.now();
  }

  /** Any frame we send makes a ping unnecessary for another interval. */
  noteSent(): void {
    this.lastSentAt = this.clock.now();
  }

  /** Records the pong to one of our pings and feeds the round-trip time to the policy. */
  notePong(nonce: number): number | undefined {
    const sentAt = this.outstanding.get(nonce);
    if (sentAt === undefined) return undefined;
    this.outstanding.delete(nonce);
    const rtt = this.clock.now() - sentAt;
    this.policy.onPong(rtt);
    return rtt;
  }

  private deadline(): number {
    return this.lastReceivedAt + this.policy.intervalMs() + this.policy.timeoutMs();
  }

  private armWatchdog(): void {
    this.watchdog?.cancel();
    this.watchdog = this.clock.setTimeout(() => this.checkWatchdog(), this.deadline() - this.clock.now());
  }

  private checkWatchdog(): void {
    if (!this.running) return;
    const now = this.clock.now();
    if (now < this.deadline()) {
      this.armWatchdog();
      return;
    }
    this.stop();
    this.policy.onPeerDead();
    this.host.onPeerDead(now - this.lastReceivedAt);
  }

  private armPing(): void {
    this.pingTimer?.cancel();
    const due = this.lastSentAt + this.policy.intervalMs();
    this.pingTimer = this.clock.setTimeout(() => this.checkPing(), due - this.clock.now());
  }

  private checkPing(): void {
    if (!this.running) return;
    const now = this.clock.now();
    if (now >= this.lastSentAt + this.policy.intervalMs()) {
      const nonce = this.nextNonce++;
      // Only the newest few pings matter for RTT; older unanswered ones are forgotten.
      if (this.outstanding.size > 8) this.outstanding.clear();
      this.outstanding.set(nonce, now);
      this.pingsSent += 1;
      this.lastSentAt = now;
      this.host.sendPing(nonce, now);
    }
    this.armPing();
  }
}
