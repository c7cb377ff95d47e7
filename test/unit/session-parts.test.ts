import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock.js';
import { Backoff } from '../../src/client/backoff.js';
import { ReceiveTracker } from '../../src/client/receive-tracker.js';
import { decodeFrame, encodeFrame } from '../../src/codec/frame-codec.js';
import { Priority } from '../../src/codec/proto.js';
import { DeviceInbox } from '../../src/inbox/device-inbox.js';
import { seededRandom } from '../../src/random.js';
import { Coalescer } from '../../src/session/coalescer.js';
import { PrioritySendQueue } from '../../src/session/send-queue.js';
import { UpstreamLedger } from '../../src/gateway/upstream.js';

describe('backoff', () => {
  it('grows exponentially up to the cap with full jitter', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1_000, multiplier: 2 }, seededRandom(3));
    const ceilings: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      ceilings.push(backoff.ceilingMs);
      const delay = backoff.next();
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(ceilings[i]!);
    }
    expect(ceilings).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    backoff.reset();
    expect(backoff.ceilingMs).toBe(100);
  });

  it('repeats with the same seed', () => {
    const draw = () => {
      const backoff = new Backoff({ initialMs: 100, maxMs: 10_000, multiplier: 2 }, seededRandom(9));
      return Array.from({ length: 5 }, () => backoff.next());
    };
    expect(draw()).toEqual(draw());
  });
});

describe('receive tracker', () => {
  it('dedupes and acks cumulatively with selective ranges', () => {
    const tracker = new ReceiveTracker();
    expect(tracker.accept(1)).toBe(true);
    expect(tracker.accept(3)).toBe(true);
    expect(tracker.accept(3)).toBe(false);
    expect(tracker.ack()).toEqual({ cumulative: 1, selective: [3] });
    expect(tracker.accept(2)).toBe(true);
    expect(tracker.ack()).toEqual({ cumulative: 3, selective: [] });
    expect(tracker.accept(1)).toBe(false);
  });

  it('skips a reported gap', () => {
    const tracker = new ReceiveTracker();
    tracker.accept(1);
    tracker.skip(2, 8);
    expect(tracker.cumulative).toBe(8);
    expect(tracker.accept(9)).toBe(true);
    expect(tracker.cumulative).toBe(9);
  });
});

describe('device inbox', () => {
  it('numbers messages, dedupes ids and trims on ack', () => {
    const inbox = new DeviceInbox(100);
    const a = inbox.append('a', Priority.PRIORITY_NORMAL, new Uint8Array(), 0);
    const b = inbox.append('b', Priority.PRIORITY_NORMAL, new Uint8Array(), 0);
    expect([a.message.seq, b.message.seq]).toEqual([1, 2]);
    expect(inbox.append('a', Priority.PRIORITY_NORMAL, new Uint8Array(), 0)).toMatchObject({ duplicate: true, message: { seq: 1 } });
    expect(inbox.ack(1).map((m) => m.seq)).toEqual([1]);
    expect(inbox.pendingAfter(0).map((m) => m.seq)).toEqual([2]);
    expect(inbox.base).toBe(1);
  });

  it('reports dropped messages as a gap', () => {
    const inbox = new DeviceInbox(2);
    for (const id of ['a', 'b', 'c', 'd']) inbox.append(id, Priority.PRIORITY_NORMAL, new Uint8Array(), 0);
    expect(inbox.missingAfter(0)).toEqual({ from: 1, to: 2 });
    expect(inbox.missingAfter(2)).toBeNull();
    expect(inbox.pendingAfter(0).map((m) => m.seq)).toEqual([3, 4]);
  });

  it('applies selective acks', () => {
    const inbox = new DeviceInbox(10);
    for (const id of ['a', 'b', 'c']) inbox.append(id, Priority.PRIORITY_NORMAL, new Uint8Array(), 0);
    expect(inbox.ack(0, [3]).map((m) => m.seq)).toEqual([3]);
    expect(inbox.pendingAfter(0).map((m) => m.seq)).toEqual([1, 2]);
  });
});

describe('priority send queue', () => {
  it('serves high before normal and keeps order within a class', () => {
    const queue = new PrioritySendQueue<string>();
    queue.push('n1', false);
    queue.push('n2', false);
    queue.push('h1', true);
    queue.push('h2', true);
    expect([queue.shift(), queue.shift(), queue.shift(), queue.shift(), queue.shift()]).toEqual(['h1', 'h2', 'n1', 'n2', undefined]);
  });
});

describe('coalescer', () => {
  const ping = (n: number) => encodeFrame({ ping: { nonce: n } });

  it('merges frames into one batch within the delay', () => {
    const clock = new VirtualClock(0);
    const writes: { frame: Uint8Array; count: number }[] = [];
    const coalescer = new Coalescer({ enabled: true, maxBytes: 1024, maxDelayMs: 5 }, 64 * 1024, clock, (frame, count) => writes.push({ frame, count }));
    for (let i = 1; i <= 10; i += 1) coalescer.add(ping(i));
    expect(writes).toHaveLength(0);
    clock.advance(5);
    expect(writes).toHaveLength(1);
    const batch = decodeFrame(writes[0]!.frame);
    expect(batch.body).toBe('batch');
    expect(batch.batch!.frames).toHaveLength(10);
    expect(writes[0]!.count).toBe(10);
  });

  it('flushes at the byte threshold without exceeding it', () => {
    const clock = new VirtualClock(0);
    const writes: Uint8Array[] = [];
    const coalescer = new Coalescer({ enabled: true, maxBytes: 64, maxDelayMs: 1_000 }, 64 * 1024, clock, (frame) => writes.push(frame));
    for (let i = 1; i <= 40; i += 1) coalescer.add(ping(i));
    coalescer.flush();
    expect(writes.length).toBeGreaterThan(1);
    for (const frame of writes) expect(frame.length).toBeLessThanOrEqual(64);
    const total = writes.flatMap((frame) => {
      const decoded = decodeFrame(frame);
      return decoded.body === 'batch' ? decoded.batch!.frames : [frame];
    });
    expect(total).toHaveLength(40);
  });

  it('writes each frame at once when disabled', () => {
    const writes: Uint8Array[] = [];
    const coalescer = new Coalescer({ enabled: false, maxBytes: 1024, maxDelayMs: 5 }, 64 * 1024, new VirtualClock(0), (frame) => writes.push(frame));
    coalescer.add(ping(1));
    coalescer.add(ping(2));
    expect(writes).toHaveLength(2);
  });
});

describe('upstream ledger', () => {
  it('applies in order, holds early numbers and answers retries', () => {
    const ledger = new UpstreamLedger<string>();
    expect(ledger.receive(2, 'B')).toEqual({ kind: 'held' });
    expect(ledger.receive(1, 'A')).toEqual({ kind: 'apply', due: ['A', 'B'] });
    expect(ledger.receive(1, 'A')).toMatchObject({ kind: 'duplicate', ack: null, pending: true });
    ledger.recordAck({ clientSeq: 1, messageId: 'm1' });
    expect(ledger.receive(1, 'A')).toMatchObject({ kind: 'duplicate', ack: { clientSeq: 1, messageId: 'm1' }, pending: false });
  });
});
