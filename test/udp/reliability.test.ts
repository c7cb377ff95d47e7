import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode } from '../../src/codec/proto.js';
import { FrameTooLargeError, MessageTooLargeError } from '../../src/errors.js';
import { numbered, startPair, waitFor, type Pair } from './helpers.js';

let pair: Pair | null = null;

afterEach(async () => {
  await pair?.close();
  pair = null;
});

/** Settings that keep lossy tests fast: a short minimum RTO. */
const FAST = { minRtoMs: 50, maxRtoMs: 400, initialRtoMs: 100, handshakeRetryMs: 100, handshakeMaxRetryMs: 400 };

describe('udp reliability', () => {
  it('delivers 300 frames in order, exactly once, under 30% loss', async () => {
    pair = await startPair({ relay: { seed: 42, lossToServer: 0.3, lossToClient: 0.3 }, listenSettings: FAST, dialSettings: FAST });
    const upstream = numbered('up', 300);
    const downstream = numbered('down', 300);
    for (const frame of upstream) pair.client.send(frame);
    for (const frame of downstream) pair.server.send(frame);
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length >= 300, '300 frames at the server', 20_000);
    await pair.clientEvents.until(() => pair!.clientEvents.frames.length >= 300, '300 frames at the client', 20_000);
    // Let late retransmissions arrive: none of them may surface as a second delivery.
    await new Promise((resolve) => setTimeout(resolve, 300));

    expect(pair.serverEvents.framesAsText()).toEqual(upstream.map((frame) => frame.toString()));
    expect(pair.clientEvents.framesAsText()).toEqual(downstream.map((frame) => frame.toString()));
    expect(pair.relay!.stats('toServer').dropped).toBeGreaterThan(50);
    expect(pair.client.counters.retransmissions).toBeGreaterThan(0);
    expect(pair.server.counters.retransmissions).toBeGreaterThan(0);
    // The last ACKs may still be in flight or lost; the sender frees its buffer once they arrive.
    await waitFor(() => pair!.client.bufferedAmount === 0 && pair!.server.bufferedAmount === 0, 'empty send buffers');
    expect(pair.serverEvents.errors).toEqual([]);
  });

  it('reassembles a 200 KB frame under 20% loss', async () => {
    pair = await startPair({
      maxFrameSize: 256 * 1024,
      relay: { seed: 9, lossToServer: 0.2, lossToClient: 0.2 },
      listenSettings: FAST,
      dialSettings: FAST,
    });
    const big = Buffer.alloc(200 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
    pair.client.send(big);
    pair.client.send(Buffer.from('after the big one'));
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length >= 2, 'big frame and follower', 20_000);
    expect(pair.serverEvents.frames[0]!.equals(big)).toBe(true);
    expect(pair.serverEvents.frames[1]!.toString()).toBe('after the big one');
    expect(pair.serverEvents.frames).toHaveLength(2);
  });

  it('fragments stay within 1200-byte datagrams', async () => {
    pair = await startPair({ maxFrameSize: 64 * 1024, relay: { seed: 1 } });
    let largest = 0;
    pair.relay!.filter = (_direction, datagram) => {
      largest = Math.max(largest, datagram.length);
      return 'pass';
    };
    pair.client.send(Buffer.alloc(40_000, 1));
    pair.server.send(Buffer.alloc(40_000, 2));
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length === 1, 'server frame');
    await pair.clientEvents.until(() => pair!.clientEvents.frames.length === 1, 'client frame');
    expect(largest).toBeGreaterThan(1000);
    expect(largest).toBeLessThanOrEqual(1200);
  });

  it('send rejects a frame above maxFrameSize', async () => {
    pair = await startPair({ maxFrameSize: 4096 });
    expect(() => pair!.client.send(Buffer.alloc(4097))).toThrow(MessageTooLargeError);
    expect(() => pair!.client.send(Buffer.alloc(4096))).not.toThrow();
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length === 1, 'frame at the limit');
    expect(pair.serverEvents.frames[0]).toHaveLength(4096);
  });

  it('receive reports FrameTooLargeError above maxFrameSize', async () => {
    pair = await startPair({ maxFrameSize: 8 * 1024, clientMaxFrameSize: 64 * 1024 });
    pair.client.send(Buffer.alloc(20_000, 3));
    pair.client.send(Buffer.from('never delivered'));
    await pair.serverEvents.until(() => pair!.serverEvents.errors.length === 1, 'FrameTooLargeError');
    const error = pair.serverEvents.errors[0]!;
    expect(error).toBeInstanceOf(FrameTooLargeError);
    expect((error as FrameTooLargeError).closeCode).toBe(CloseCode.FRAME_TOO_LARGE);
    expect((error as FrameTooLargeError).declaredLength).toBe(20_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(pair.serverEvents.frames).toEqual([]);
    expect(pair.serverEvents.errors).toHaveLength(1);
  });

  it('sendUnreliable delivers small frames and falls back for large ones', async () => {
    pair = await startPair({ maxFrameSize: 16 * 1024 });
    pair.client.sendUnreliable(Buffer.from('ping'));
    pair.client.sendUnreliable(Buffer.alloc(5_000, 4));
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length === 2, 'two unreliable frames');
    const sizes = pair.serverEvents.frames.map((frame) => frame.length).sort((a, b) => a - b);
    expect(sizes).toEqual([4, 5_000]);
  });

  it('unreliable frames are not retransmitted', async () => {
    pair = await startPair({ relay: { seed: 3 } });
    pair.relay!.setLoss('toServer', 1);
    pair.client.sendUnreliable(Buffer.from('lost heartbeat'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    pair.relay!.setLoss('toServer', 0);
    pair.client.send(Buffer.from('reliable'));
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length >= 1, 'reliable frame');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(pair.serverEvents.framesAsText()).toEqual(['reliable']);
  });

  it('reports congestion and drains', async () => {
    pair = await startPair({ maxFrameSize: 64 * 1024, listenSettings: { windowSegments: 8 }, dialSettings: { highWaterMark: 32 * 1024, windowSegments: 8 } });
    const frames = numbered('bulk', 20, 4096);
    for (const frame of frames) pair.client.send(frame);
    expect(pair.client.bufferedAmount).toBeGreaterThan(32 * 1024);
    expect(pair.client.congested).toBe(true);
    await pair.clientEvents.until(() => pair!.clientEvents.drains >= 1, 'drain');
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length === 20, 'bulk frames');
    await waitFor(() => pair!.client.bufferedAmount === 0, 'empty send buffer');
    expect(pair.client.congested).toBe(false);
    expect(pair.serverEvents.frames.map((frame) => frame.subarray(0, 8).toString())).toEqual(frames.map((frame) => frame.subarray(0, 8).toString()));
  });

  it('duplicates small frames when asked and still delivers once', async () => {
    pair = await startPair({ relay: { seed: 11, lossToServer: 0.3 }, listenSettings: FAST, dialSettings: { ...FAST, duplicateSmallFrames: 'always' } });
    const frames = numbered('dup', 100);
    for (const frame of frames) pair.client.send(frame);
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length >= 100, '100 duplicated frames', 20_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(pair.serverEvents.framesAsText()).toEqual(frames.map((frame) => frame.toString()));
    expect(pair.client.counters.duplicatesSent).toBeGreaterThan(0);
  });

  it('switches duplicate sending on when the peer reports high loss', async () => {
    pair = await startPair({ relay: { seed: 5, lossToServer: 0.4 }, listenSettings: FAST, dialSettings: FAST });
    // Frames are sent one at a time, so the receiver gets many packets and measures the loss.
    for (let i = 0; i < 200; i++) {
      pair.client.send(Buffer.from(`paced-${i}`));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await pair.serverEvents.until(() => pair!.serverEvents.frames.length >= 200, '200 paced frames', 20_000);
    expect(pair.client.counters.duplicatesSent).toBeGreaterThan(0);
  });
});
