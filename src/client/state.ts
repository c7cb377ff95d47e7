// Client connection state as a tagged union, changed only through one setter that logs.
import type { CloseCode } from '../codec/proto.js';

export type ClientState =
  | { kind: 'idle' }
  | { kind: 'connecting'; attempt: number }
  | { kind: 'connected'; attempt: number; sessionId: string; epoch: number }
  | { kind: 'backoff'; delayMs: number }
  | { kind: 'closed'; code: CloseCode; reason: string };

export type ClientStateKind = ClientState['kind'];
