// Liveness of the current link: the shared heartbeat (a ping after the welcome's interval of send
// silence, a dead link after interval + timeout of receive silence) and on-demand RTT probes,
// which share one pong handler.
import type { Clock } from '../clock.js';
import { encodeFrame } from '../codec/frame-codec.js';
import type { Welcome } from '../codec/proto.js';
import { Heartbeat, type HeartbeatHost } from '../heartbeat/heartbeat.js';
import { FixedHeartbeatPolicy } from '../heartbeat/policy.js';
import { NotConnectedError } from './errors.js';
import { BROWSER_CLIENT_DEFAULTS } from './options.js';
import { RttProbes } from './rtt-probes.js';
import type { BrowserClientStats, RttSample } from './state.js';

export interface LivenessHost {
  sendFrame(frame: Uint8Array): void;
  /** The gateway was silent for `silenceMs`; the host drops the link. */
  onPeerDead(silenceMs: number): void;
  onRtt(sample: RttSample): void;
}

export class Liveness implements HeartbeatHost {
  private heartbeat: Heartbeat | null = null;
  private readonly probes: RttProbes;

  constructor(
    private readonly clock: Clock,
    private readonly host: LivenessHost,
    private readonly stats: BrowserClientStats,
  ) {
    this.probes = new RttProbes(clock);
  }

  /** Starts the heartbeat with the welcome's parameters; the gateway's defaults fill in zeros. */
  start(params: Welcome['heartbeat']): void {
    this.heartbeat?.stop();
    const defaults = BROWSER_CLIENT_DEFAULTS.heartbeat;
    const policy = new FixedHeartbeatPolicy(params?.intervalMs || defaults.intervalMs, params?.timeoutMs || defaults.timeoutMs);
    this.heartbeat = new Heartbeat(this, policy, this.clock, { pings: true });
    this.heartbeat.start();
  }

  /** Stops the heartbeat and rejects the probes in flight with `reason`. */
  stop(reason: string): void {
    this.heartbeat?.stop();
    this.heartbeat = null;
    this.probes.rejectAll(reason);
  }

  noteReceived(): void {
    this.heartbeat?.noteReceived();
  }

  noteSent(): void {
    this.heartbeat?.noteSent();
  }

  /** Sends a ping now and resolves with its round-trip time. */
  probe(timeoutMs: number): Promise<number> {
    if (this.heartbeat === null) return Promise.reject(new NotConnectedError('cannot ping without a session'));
    const probe = this.probes.start(timeoutMs);
    this.sendPing(probe.nonce, probe.sentAt);
    return probe.rtt;
  }

  onPong(nonce: number): void {
    const probeRtt = this.probes.onPong(nonce);
    if (probeRtt !== undefined) {
      this.host.onRtt({ rttMs: probeRtt, source: 'probe' });
      return;
    }
    const heartbeatRtt = this.heartbeat?.notePong(nonce);
    if (heartbeatRtt !== undefined) this.host.onRtt({ rttMs: heartbeatRtt, source: 'heartbeat' });
  }

  // HeartbeatHost

  sendPing(nonce: number, sentAtMs: number): void {
    this.stats.pingsSent += 1;
    this.host.sendFrame(encodeFrame({ ping: { nonce, sentAtMs } }));
  }

  onPeerDead(silenceMs: number): void {
    this.heartbeat = null;
    this.host.onPeerDead(silenceMs);
  }
}
