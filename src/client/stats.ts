// Counters a client keeps for reports and experiments.

export class ClientStats {
  connects = 0;
  /** Successful connects after the first one. */
  reconnects = 0;
  failedAttempts = 0;
  staleAttemptsClosed = 0;
  messagesReceived = 0;
  duplicatesReceived = 0;
  gaps = 0;
  heartbeatTimeouts = 0;
  /** Bytes of ping and pong frames (bodies, without transport framing). */
  heartbeatBytes = 0;
  /** Dial-to-welcome time of each successful attempt, in ms. */
  readonly connectTimesMs: number[] = [];

  recordConnect(durationMs: number): void {
    if (this.connects > 0) this.reconnects += 1;
    this.connects += 1;
    this.connectTimesMs.push(durationMs);
  }
}
