import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock.js';
import { ConfigError } from '../../src/errors.js';
import { seededRandom } from '../../src/random.js';
import { LinkDirection, type LinkDirectionConfig, type ScheduleResult } from '../../src/emulator/link-model.js';
import { parseMahimahiTrace } from '../../src/emulator/mahimahi-trace.js';

const plain: LinkDirectionConfig = { delayMs: 0, jitterMs: 0, lossRate: 0 };

function deliverAt(result: ScheduleResult): number {
  if ('drop' in result) throw new Error(`expected delivery, got drop ${result.drop}`);
  return result.deliverAtMs;
}

describe('link model', () => {
  it('token bucket paces packets at the configured rate', () => {
    const clock = new VirtualClock(0);
    // 1000 kbit/s = 125 bytes/ms, so one 1500-byte packet takes 12 ms once the burst is spent.
    const link = new LinkDirection({ ...plain, delayMs: 20, bandwidthKbps: 1000, burstBytes: 1500 }, { random: seededRandom(1) });

    const times = [];
    for (let i = 0; i < 5; i++) times.push(deliverAt(link.schedule(1500, clock.now())));
    expect(times).toEqual([20, 32, 44, 56, 68]);

    // After 100 idle ms the bucket is full again, but never above its 1500-byte depth.
    clock.advance(200);
    expect(deliverAt(link.schedule(1500, clock.now()))).toBe(220);
    expect(deliverAt(link.schedule(1500, clock.now()))).toBe(232);
  });

  it('token bucket default burst is 10 ms of rate', () => {
    // 8000 kbit/s = 1000 bytes/ms; default burst = 10 000 bytes.
    const link = new LinkDirection({ ...plain, bandwidthKbps: 8000 }, { random: seededRandom(1) });
    expect(deliverAt(link.schedule(10_000, 0))).toBe(0);
    expect(deliverAt(link.schedule(1000, 0))).toBe(1);
  });

  it('no bandwidth limit delivers after the delay', () => {
    const link = new LinkDirection({ ...plain, delayMs: 35 }, { random: seededRandom(1) });
    expect(deliverAt(link.schedule(65_000, 100))).toBe(135);
    expect(link.backlogBytes(100)).toBe(0);
  });

  it('loss rate stays within tolerance and repeats with the seed', () => {
    const run = (seed: number): number[] => {
      const link = new LinkDirection({ ...plain, lossRate: 0.1 }, { random: seededRandom(seed) });
      const dropped: number[] = [];
      for (let i = 0; i < 10_000; i++) {
        if ('drop' in link.schedule(100, i)) dropped.push(i);
      }
      expect(link.stats().dropped.loss).toBe(dropped.length);
      return dropped;
    };
    const first = run(42);
    expect(first.length).toBeGreaterThan(900);
    expect(first.length).toBeLessThan(1100);
    expect(run(42)).toEqual(first);
    expect(run(43)).not.toEqual(first);
  });

  it('loss draws ignore queue and jitter', () => {
    const lossIndices = (config: LinkDirectionConfig): number[] => {
      const link = new LinkDirection(config, { random: seededRandom(9) });
      const lost: number[] = [];
      for (let i = 0; i < 2_000; i++) {
        const result = link.schedule(1500, i * 0.5);
        if ('drop' in result && result.drop === 'loss') lost.push(i);
      }
      return lost;
    };
    const base = lossIndices({ ...plain, lossRate: 0.2 });
    const shaped = lossIndices({ ...plain, lossRate: 0.2, jitterMs: 30, bandwidthKbps: 1000, queueLimitBytes: 6000 });
    expect(shaped).toEqual(base);
  });

  it('queue limit drops at the tail', () => {
    // 100 kbit/s = 12.5 bytes/ms: each 1500-byte packet needs 120 ms of tokens.
    const link = new LinkDirection({ ...plain, bandwidthKbps: 100, burstBytes: 1500, queueLimitBytes: 3000 }, { random: seededRandom(1) });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(link.schedule(1500, 0));

    expect(results.map((result) => ('drop' in result ? result.drop : 'ok'))).toEqual(['ok', 'ok', 'ok', 'queue', 'queue']);
    expect(link.backlogBytes(0)).toBe(3000);
    expect(link.stats().maxQueueBytes).toBe(3000);
    expect(link.stats().dropped.queue).toBe(2);

    // At 130 ms the second packet has left, so one more fits.
    expect(link.backlogBytes(130)).toBe(1500);
    expect(link.backlogDrainedAtMs(0, 130)).toBe(240);
    expect(deliverAt(link.schedule(1500, 130))).toBe(360);
    expect('drop' in link.schedule(1500, 130)).toBe(true);
  });

  it('queue limit admits a packet into an empty queue', () => {
    const link = new LinkDirection({ ...plain, bandwidthKbps: 100, burstBytes: 1500, queueLimitBytes: 500 }, { random: seededRandom(1) });
    expect('drop' in link.schedule(1500, 0)).toBe(false);
    expect('drop' in link.schedule(1500, 0)).toBe(false);
    expect(link.schedule(1500, 0)).toEqual({ drop: 'queue' });
  });

  it('blackhole drops everything until turned off', () => {
    const link = new LinkDirection(plain, { random: seededRandom(1) });
    link.setBlackhole(true);
    expect(link.schedule(10, 0)).toEqual({ drop: 'blackhole' });
    expect(link.schedule(10, 1)).toEqual({ drop: 'blackhole' });
    link.setBlackhole(false);
    expect(deliverAt(link.schedule(10, 2))).toBe(2);
    expect(link.stats().dropped).toEqual({ loss: 0, queue: 0, blackhole: 2 });
    expect(link.stats().droppedBytes).toBe(20);
  });

  it('jitter keeps order unless reorder is set', () => {
    const jittery: LinkDirectionConfig = { ...plain, delayMs: 50, jitterMs: 40 };
    const ordered = new LinkDirection(jittery, { random: seededRandom(7) });
    const reordering = new LinkDirection({ ...jittery, reorder: true }, { random: seededRandom(7) });
    const keptInOrder = new LinkDirection({ ...jittery, reorder: true }, { random: seededRandom(7), keepOrder: true });

    const times = { ordered: [] as number[], reordering: [] as number[], kept: [] as number[] };
    for (let i = 0; i < 200; i++) {
      times.ordered.push(deliverAt(ordered.schedule(100, i)));
      times.reordering.push(deliverAt(reordering.schedule(100, i)));
      times.kept.push(deliverAt(keptInOrder.schedule(100, i)));
    }
    const inversions = (values: number[]): number => values.filter((value, i) => i > 0 && value < (values[i - 1] as number)).length;
    expect(inversions(times.ordered)).toBe(0);
    expect(inversions(times.kept)).toBe(0);
    expect(inversions(times.reordering)).toBeGreaterThan(0);
    for (const [i, value] of times.reordering.entries()) {
      expect(value).toBeGreaterThanOrEqual(i + 10);
      expect(value).toBeLessThanOrEqual(i + 90);
    }
  });

  it('loss as delay adds one timeout instead of dropping', () => {
    const link = new LinkDirection({ ...plain, delayMs: 10, lossRate: 1 }, { random: seededRandom(1), keepOrder: true });
    link.setLossAsDelay(200);
    expect(link.schedule(100, 0)).toEqual({ deliverAtMs: 210, lossDelayed: true });
    expect(link.stats().lossDelayedUnits).toBe(1);
    expect(link.stats().dropped.loss).toBe(0);

    link.setConfig({ ...plain, delayMs: 10 });
    // The next unit waits behind the delayed one: a byte stream keeps its order.
    expect(link.schedule(100, 1)).toEqual({ deliverAtMs: 210, lossDelayed: false });
  });

  it('trace capacity replaces the token bucket', () => {
    // Two opportunities at 0 ms, one at 5 ms, one at 10 ms; period 10 ms.
    const trace = parseMahimahiTrace('0\n0\n5\n10\n', 'test');
    const link = new LinkDirection({ ...plain, delayMs: 1, bandwidthKbps: 1, traceFile: 'unused' }, { random: seededRandom(1), trace, startMs: 0 });

    const times = [];
    for (let i = 0; i < 6; i++) times.push(deliverAt(link.schedule(1500, 0)));
    // The second cycle starts at 10 ms, so its two 0 ms opportunities fall at 10 ms.
    expect(times).toEqual([1, 1, 6, 11, 11, 11]);
    expect(link.backlogBytes(0)).toBe(4 * 1500);
  });

  it('trace file is loaded from any path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pushlab-trace-'));
    const path = join(dir, 'link.up');
    writeFileSync(path, '1\n2\n3\n4\n');
    const link = new LinkDirection({ ...plain, traceFile: path }, { random: seededRandom(1), startMs: 0 });
    expect(deliverAt(link.schedule(3000, 0))).toBe(2);
    expect(deliverAt(link.schedule(100, 0))).toBe(3);
  });

  it('invalid config is rejected', () => {
    const random = seededRandom(1);
    expect(() => new LinkDirection({ ...plain, lossRate: 1.5 }, { random })).toThrow(ConfigError);
    expect(() => new LinkDirection({ ...plain, delayMs: -1 }, { random })).toThrow(/delayMs/);
    expect(() => new LinkDirection({ ...plain, bandwidthKbps: 0 }, { random })).toThrow(/bandwidthKbps/);
  });
});
