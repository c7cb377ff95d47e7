// Heartbeat policies decide the ping interval and the silence a peer is allowed. The fixed policy
// is the baseline; a learning ("smart") policy that probes the NAT idle timeout plugs in here later.

export interface HeartbeatPolicy {
  readonly name: string;
  /** Send silence after which the pinging side sends a ping, in ms. */
  intervalMs(): number;
  /** Extra silence tolerated after the interval before the peer is declared dead, in ms. */
  timeoutMs(): number;
  /** Called with the round-trip time of every answered ping. */
  onPong(rttMs: number): void;
  /** Called when the peer was declared dead, so a learning policy can back off. */
  onPeerDead(): void;
}

export class FixedHeartbeatPolicy implements HeartbeatPolicy {
  readonly name = 'fixed';

  constructor(
    private readonly interval: number,
    private readonly timeout: number,
  ) {
    if (!(interval > 0) || !(timeout > 0)) throw new RangeError(`heartbeat interval and timeout must be positive, got ${interval} and ${timeout}`);
  }

  intervalMs(): number {
    return this.interval;
  }

  timeoutMs(): number {
    return this.timeout;
  }

  onPong(): void {}

  onPeerDead(): void {}
}
