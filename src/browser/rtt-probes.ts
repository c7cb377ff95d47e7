// On-demand round-trip probes (ping frames sent when the page asks, not on the heartbeat's idle
// schedule). Their nonces start far above the heartbeat's, so a pong tells which of the two sent it.
import type { Clock, TimerHandle } from '../clock.js';
import { NotConnectedError } from './errors.js';

/** Heartbeat nonces count up from 1 and never get near this. */
const FIRST_PROBE_NONCE = 2 ** 40;

interface Probe {
  sentAt: number;
  timer: TimerHandle;
  resolve(rttMs: number): void;
  reject(error: Error): void;
}

export class RttProbes {
  private nextNonce = FIRST_PROBE_NONCE;
  private readonly pending = new Map<number, Probe>();

  constructor(private readonly clock: Clock) {}

  /** Registers a probe; the caller sends a ping with the returned nonce. */
  start(timeoutMs: number): { nonce: number; sentAt: number; rtt: Promise<number> } {
    const nonce = this.nextNonce++;
    const sentAt = this.clock.now();
    const rtt = new Promise<number>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.pending.delete(nonce);
        reject(new NotConnectedError(`no pong for probe ${nonce} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(nonce, { sentAt, timer, resolve, reject });
    });
    return { nonce, sentAt, rtt };
  }

  /** Settles the probe with this nonce; returns its RTT, or undefined when the pong was not for a probe. */
  onPong(nonce: number): number | undefined {
    const probe = this.pending.get(nonce);
    if (probe === undefined) return undefined;
    this.pending.delete(nonce);
    probe.timer.cancel();
    const rtt = this.clock.now() - probe.sentAt;
    probe.resolve(rtt);
    return rtt;
  }

  /** Rejects every probe in flight, because the link it was sent on is gone. */
  rejectAll(reason: string): void {
    for (const probe of this.pending.values()) {
      probe.timer.cancel();
      probe.reject(new NotConnectedError(reason));
    }
    this.pending.clear();
  }
}
