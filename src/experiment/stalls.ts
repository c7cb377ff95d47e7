// Head-of-line stalls: time during which a device waits for a message much longer than the link's
// delay. Every transport delivers a device's pushes reliably and in order, so one lost packet holds
// back the message it carried and every later message of that device until it is recovered. A
// stall is measured per device as follows (docs/EXPERIMENTS.md, "Stalls", states the same):
//
//   threshold θ = down.delayMs + down.jitterMs + max(2 × (up.delayMs + down.delayMs), 100 ms)
//   a message is late when receivedAt − publishedAt > θ; it stalls its device during
//   [publishedAt + θ, receivedAt]
//   the device's stalls are the union of these intervals: `count` is the number of disjoint
//   intervals and `totalMs` their summed length
//
// A message recovered by one fast retransmission arrives about one round trip after the link's
// one-way delay, below θ; a stall means the device waited more than two further round trips (at
// least 100 ms), as after a retransmission timeout, a tail loss probe, a blackhole or a reconnect.
import type { LinkProfile } from '../emulator/index.js';

export interface StallSummary {
  /** θ, in ms. */
  thresholdMs: number;
  /** Disjoint stall intervals, summed over devices. */
  count: number;
  /** Summed length of the stall intervals, in ms. */
  totalMs: number;
  /** Maximum length of one stall interval, in ms. */
  maxMs: number;
  /** Messages delivered later than θ after their publish. */
  lateMessages: number;
  /** Devices with at least one stall. */
  devicesStalled: number;
}

export interface DeliveredMessage {
  device: number;
  /** Gateway's publish time, epoch ms. */
  publishedAtMs: number;
  latencyMs: number;
}

const MIN_STALL_MARGIN_MS = 100;

/** θ for a profile: its downlink one-way delay plus two base round trips (at least 100 ms). */
export function stallThresholdMs(profile: LinkProfile): number {
  const roundTripMs = profile.up.delayMs + profile.down.delayMs;
  return profile.down.delayMs + profile.down.jitterMs + Math.max(2 * roundTripMs, MIN_STALL_MARGIN_MS);
}

/** Computes the stalls of all devices from the first receipt of every delivered message. */
export function computeStalls(messages: readonly DeliveredMessage[], thresholdMs: number): StallSummary {
  const byDevice = new Map<number, [number, number][]>();
  let lateMessages = 0;
  for (const message of messages) {
    if (message.latencyMs <= thresholdMs) continue;
    lateMessages += 1;
    const intervals = byDevice.get(message.device) ?? [];
    intervals.push([message.publishedAtMs + thresholdMs, message.publishedAtMs + message.latencyMs]);
    byDevice.set(message.device, intervals);
  }

  const summary: StallSummary = { thresholdMs, count: 0, totalMs: 0, maxMs: 0, lateMessages, devicesStalled: byDevice.size };
  for (const intervals of byDevice.values()) {
    intervals.sort((a, b) => a[0] - b[0]);
    let [start, end] = intervals[0]!;
    const close = (): void => {
      summary.count += 1;
      summary.totalMs += end - start;
      summary.maxMs = Math.max(summary.maxMs, end - start);
    };
    for (const [nextStart, nextEnd] of intervals.slice(1)) {
      if (nextStart <= end) {
        end = Math.max(end, nextEnd);
        continue;
      }
      close();
      [start, end] = [nextStart, nextEnd];
    }
    close();
  }
  return summary;
}
