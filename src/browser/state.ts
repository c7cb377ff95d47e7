// Browser client state as a tagged union, and the events the client emits.
import type { CloseCode, Welcome } from '../codec/proto.js';
import type { ConnectionClosedError, PushlabError } from '../errors.js';

export type BrowserClientState =
  | { kind: 'idle' }
  /** Trying `transport`, one rung of the ladder, within connection attempt `attempt`. */
  | { kind: 'connecting'; attempt: number; transport: string }
  | { kind: 'connected'; attempt: number; transport: string; url: string; sessionId: string; epoch: number }
  /** Waiting `delayMs` before the next attempt, because of `reason`. */
  | { kind: 'backoff'; delayMs: number; reason: string }
  | { kind: 'closed'; code: CloseCode; reason: string };

export type BrowserClientStateKind = BrowserClientState['kind'];

export interface ReceivedPush {
  seq: number;
  messageId: string;
  high: boolean;
  payload: Uint8Array;
  /** Gateway wall-clock time of the publish call, ms since the Unix epoch. */
  publishedAtMs: number;
  /** Page wall-clock time when the push was decoded, ms since the Unix epoch. */
  receivedAtMs: number;
  replay: boolean;
  /** Channel the frame arrived on: the session's stream or a datagram. */
  via: 'stream' | 'datagram';
}

export interface FallbackEvent {
  /** The transport that was skipped or failed. */
  transport: string;
  /** The next transport the client tries, or null when the ladder is exhausted. */
  next: string | null;
  error: PushlabError;
}

export interface RttSample {
  rttMs: number;
  /** 'heartbeat' for the idle pings the welcome's heartbeat parameters schedule; 'probe' for ping(). */
  source: 'heartbeat' | 'probe';
}

export interface BrowserClientEvents {
  state: [state: BrowserClientState, previous: BrowserClientState];
  welcome: [welcome: Welcome];
  message: [message: ReceivedPush];
  /** Messages [from, to] are gone from the gateway's inbox and will never arrive. */
  gap: [range: { from: number; to: number }];
  rtt: [sample: RttSample];
  /** A transport of the ladder was skipped or failed and the client moves on. */
  fallback: [event: FallbackEvent];
  /** Non-fatal problems (a dropped link, a protocol error); the client carries on. */
  warning: [error: PushlabError];
  closed: [error: ConnectionClosedError];
}

export interface BrowserClientStats {
  messagesReceived: number;
  duplicatesReceived: number;
  /** Frames that arrived as WebTransport datagrams rather than on the stream. */
  datagramsReceived: number;
  acksSent: number;
  pingsSent: number;
  /** Attempts in which every transport of the ladder failed. */
  failedAttempts: number;
  fallbacks: number;
  gaps: number;
  reconnects: number;
}

export function emptyStats(): BrowserClientStats {
  return {
    messagesReceived: 0, duplicatesReceived: 0, datagramsReceived: 0, acksSent: 0, pingsSent: 0,
    failedAttempts: 0, fallbacks: 0, gaps: 0, reconnects: 0,
  };
}
