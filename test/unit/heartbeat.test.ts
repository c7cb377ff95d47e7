import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock.js';
import { Heartbeat } from '../../src/heartbeat/heartbeat.js';
import { FixedHeartbeatPolicy } from '../../src/heartbeat/policy.js';

function harness(pings: boolean) {
  const clock = new VirtualClock(0);
  const sent: number[] = [];
  const dead: number[] = [];
  const heartbeat = new Heartbeat(
    { sendPing: (_nonce, at) => sent.push(at), onPeerDead: (silence) => dead.push(silence) },
    new FixedHeartbeatPolicy(5_000, 15_000),
    clock,
    { pings },
  );
  heartbeat.start();
  return { clock, sent, dead, heartbeat };
}

describe('heartbeat', () => {
  it('pings after each interval of send silence', () => {
    const { clock, sent } = harness(true);
    clock.advance(16_000);
    expect(sent).toEqual([5_000, 10_000, 15_000]);
  });

  it('skips pings while other frames go out', () => {
    const { clock, sent, heartbeat } = harness(true);
    for (let t = 0; t < 20_000; t += 1_000) {
      heartbeat.noteSent();
      heartbeat.noteReceived();
      clock.advance(1_000);
    }
    expect(sent).toEqual([]);
  });

  it('declares the peer dead after interval + timeout of silence', () => {
    const { clock, dead } = harness(false);
    clock.advance(19_999);
    expect(dead).toEqual([]);
    clock.advance(1);
    expect(dead).toEqual([20_000]);
  });

  it('keeps the peer alive while frames arrive', () => {
    const { clock, dead, heartbeat } = harness(false);
    for (let i = 0; i < 100; i += 1) {
      clock.advance(10_000);
      heartbeat.noteReceived();
    }
    expect(dead).toEqual([]);
  });

  it('reports dead once, then stays stopped', () => {
    const { clock, dead } = harness(true);
    clock.advance(3_600_000);
    expect(dead).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('measures round-trip time from pong', () => {
    const { clock, heartbeat } = harness(true);
    clock.advance(5_000);
    clock.advance(120);
    expect(heartbeat.notePong(1)).toBe(120);
    expect(heartbeat.notePong(1)).toBeUndefined();
  });
});
