// The receiving half of a session, across reconnects: which seqs arrived (dedupe), the ack that
// reports them once per task, and the resume position stored for the next hello.
import type { Clock, TimerHandle } from '../clock.js';
import { ReceiveTracker } from '../client/receive-tracker.js';
import { encodeFrame } from '../codec/frame-codec.js';
import { ResumeStatus, type Push, type Welcome } from '../codec/proto.js';
import type { FrameChannel } from './links/link.js';
import type { ResumeStore } from './resume-store.js';
import type { BrowserClientStats, ReceivedPush } from './state.js';

export interface WelcomeOutcome {
  status: ResumeStatus;
  /** False for a new session, whose seqs restart at the welcome's inbox base. */
  resumed: boolean;
  /** Messages the gateway no longer holds, set when status is GAP. */
  gap?: { from: number; to: number };
}

export class ReceiveState {
  private readonly tracker = new ReceiveTracker();
  private sessionIdValue = '';
  private ackTimer: TimerHandle | null = null;
  private sendFrame: ((frame: Uint8Array) => void) | null = null;

  constructor(
    private readonly store: ResumeStore,
    private readonly clock: Clock,
    private readonly stats: BrowserClientStats,
  ) {
    const stored = store.load();
    if (stored) {
      this.sessionIdValue = stored.sessionId;
      this.tracker.reset(stored.lastSeq);
    }
  }

  get sessionId(): string {
    return this.sessionIdValue;
  }

  /** Highest seq below which every message arrived. */
  get lastSeq(): number {
    return this.tracker.cumulative;
  }

  /** Applies a welcome: a new session restarts the numbering, a gap marks lost seqs as done. */
  onWelcome(welcome: Welcome, sendFrame: (frame: Uint8Array) => void): WelcomeOutcome {
    const status = welcome.resume?.status ?? ResumeStatus.NEW;
    const resumed = status !== ResumeStatus.NEW;
    const outcome: WelcomeOutcome = { status, resumed };
    if (!resumed) this.tracker.reset(Number(welcome.inboxBase ?? 0));
    if (status === ResumeStatus.GAP) {
      outcome.gap = { from: Number(welcome.resume!.missingFrom), to: Number(welcome.resume!.missingTo) };
      this.tracker.skip(outcome.gap.from, outcome.gap.to);
    }
    this.sessionIdValue = welcome.sessionId ?? '';
    this.sendFrame = sendFrame;
    this.save();
    return outcome;
  }

  /** Records a push and schedules the ack; returns the message, or undefined for a duplicate. */
  onPush(push: Push, channel: FrameChannel): ReceivedPush | undefined {
    const seq = Number(push.seq);
    const fresh = this.tracker.accept(seq);
    this.scheduleAck();
    if (!fresh) {
      this.stats.duplicatesReceived += 1;
      return undefined;
    }
    this.stats.messagesReceived += 1;
    return {
      seq,
      messageId: push.messageId ?? '',
      high: push.priority === 1,
      payload: push.payload ?? new Uint8Array(),
      publishedAtMs: Number(push.publishedAtMs ?? 0),
      receivedAtMs: this.clock.now(),
      replay: push.replay === true,
      via: channel,
    };
  }

  /** Sends a scheduled ack now (before a close frame, say). */
  flushAck(): void {
    if (!this.ackTimer) return;
    this.ackTimer.cancel();
    this.ackTimer = null;
    this.sendAck();
  }

  /** Drops the scheduled ack and the link it would go to; the next welcome brings a new one. */
  detach(): void {
    this.ackTimer?.cancel();
    this.ackTimer = null;
    this.sendFrame = null;
  }

  private scheduleAck(): void {
    if (this.ackTimer || !this.sendFrame) return;
    // One ack per task covers every push decoded in it (a batch, or several stream chunks).
    this.ackTimer = this.clock.setTimeout(() => {
      this.ackTimer = null;
      this.sendAck();
    }, 0);
  }

  private sendAck(): void {
    if (!this.sendFrame) return;
    this.stats.acksSent += 1;
    this.sendFrame(encodeFrame({ ack: this.tracker.ack() }));
    this.save();
  }

  private save(): void {
    if (this.sessionIdValue) this.store.save({ sessionId: this.sessionIdValue, lastSeq: this.tracker.cumulative });
  }
}
