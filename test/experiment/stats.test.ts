import { describe, expect, it } from 'vitest';
import { percentile, summarize } from '../../src/experiment/stats.js';

describe('percentile', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);

  it('picks the nearest rank of 1..100', () => {
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 95)).toBe(95);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 0.5)).toBe(1);
  });

  it('rounds the rank up for small samples', () => {
    // Ranks: p50 → ceil(1.5) = 2, p95 → ceil(2.85) = 3, p1 → ceil(0.03) = 1.
    expect(percentile([10, 20, 30], 50)).toBe(20);
    expect(percentile([10, 20, 30], 95)).toBe(30);
    expect(percentile([10, 20, 30], 1)).toBe(10);
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 51)).toBe(30);
  });

  it('returns the only value of one sample', () => {
    expect(percentile([7], 50)).toBe(7);
    expect(percentile([7], 99)).toBe(7);
  });

  it('returns null without samples', () => {
    expect(percentile([], 50)).toBeNull();
  });

  it('rejects percentiles outside (0, 100]', () => {
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 100.5)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('sorts before ranking', () => {
    const summary = summarize([30, 10, 50, 20, 40]);
    expect(summary).toEqual({ count: 5, min: 10, mean: 30, p50: 30, p95: 50, p99: 50, max: 50 });
  });

  it('does not reorder the input', () => {
    const values = [3, 1, 2];
    summarize(values);
    expect(values).toEqual([3, 1, 2]);
  });

  it('returns null for no values', () => {
    expect(summarize([])).toBeNull();
  });

  it('handles a long tail', () => {
    const values = [...Array.from({ length: 98 }, () => 10), 1_000, 5_000];
    const summary = summarize(values)!;
    expect(summary.p50).toBe(10);
    expect(summary.p95).toBe(10);
    expect(summary.p99).toBe(1_000);
    expect(summary.max).toBe(5_000);
  });
});
