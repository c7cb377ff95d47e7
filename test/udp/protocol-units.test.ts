// Unit tests of the pure parts of the UDP transport: codecs, windows, estimators, handshake.
import { describe, expect, it } from 'vitest';
import { FrameTooLargeError, ProtocolError } from '../../src/errors.js';
import { seededRandom } from '../../src/random.js';
import { ByteWriter, FrameType, readFrames, SegmentFlag, writeAck, writeClose, writeDatagram, writePing, writeSegment, type AckFrame, type SegmentFrame } from '../../transports/udp/frames.js';
import { acceptClientInit, createClientInit, finishClientHandshake } from '../../transports/udp/handshake.js';
import { generateX25519, parseStaticPrivateKey } from '../../transports/udp/keys.js';
import { generateUdpKeyPair } from '../../transports/udp/index.js';
import { encodeInit, INIT_DATAGRAM_SIZE, PacketType, parsePacket } from '../../transports/udp/packet.js';
import { packetNonce } from '../../transports/udp/protection.js';
import { ReliableReceiver } from '../../transports/udp/receiver.js';
import { ReplayWindow } from '../../transports/udp/replay-window.js';
import { RttEstimator } from '../../transports/udp/rtt.js';
import { ReliableSender } from '../../transports/udp/sender.js';

const RTT_OPTIONS = { initialRtoMs: 500, minRtoMs: 100, maxRtoMs: 2_000, maxAckDelayMs: 10 };

function segment(seq: number, flags: number, payload: string, totalLength = 0): SegmentFrame {
  return { type: FrameType.SEGMENT, seq, flags, totalLength, payload: Buffer.from(payload) };
}

describe('udp replay window', () => {
  it('accepts each packet number once', () => {
    const window = new ReplayWindow(64);
    for (const pn of [0, 1, 5, 3]) {
      expect(window.check(pn)).toBe(true);
      window.mark(pn);
      expect(window.check(pn)).toBe(false);
    }
    expect(window.check(2)).toBe(true);
    expect(window.check(4)).toBe(true);
  });

  it('rejects packet numbers older than the window', () => {
    const window = new ReplayWindow(64);
    window.mark(100);
    expect(window.check(37)).toBe(true);
    expect(window.check(36)).toBe(false);
    window.mark(1_000);
    expect(window.check(937)).toBe(true);
    expect(window.check(100)).toBe(false);
  });

  it('matches a set model on random input', () => {
    const random = seededRandom(99);
    const window = new ReplayWindow(128);
    const seen = new Set<number>();
    let highest = -1;
    for (let i = 0; i < 20_000; i++) {
      const pn = Math.max(0, highest + Math.floor(random() * 200) - 150);
      const expected = !seen.has(pn) && (pn > highest || highest - pn < 128);
      expect(window.check(pn)).toBe(expected);
      if (expected) {
        window.mark(pn);
        seen.add(pn);
        highest = Math.max(highest, pn);
      }
    }
  });
});

describe('udp frames', () => {
  it('round-trip every frame type', () => {
    const ack: AckFrame = { type: FrameType.ACK, largestPacket: 300, ackDelayMs: 4, lossPermille: 250, cumulative: 17, ranges: [{ start: 19, end: 21 }, { start: 400, end: 401 }] };
    const writer = new ByteWriter(1200);
    writeAck(writer, ack);
    writeSegment(writer, 2 ** 40, SegmentFlag.START, 70_000, Buffer.from('first'));
    writeSegment(writer, 5, SegmentFlag.END, 0, Buffer.from('last'));
    writeDatagram(writer, Buffer.from('unreliable'));
    writePing(writer);
    writeClose(writer, 2, 'going away');
    const frames = readFrames(writer.finish());
    expect(frames).toHaveLength(6);
    expect(frames[0]).toEqual(ack);
    expect(frames[1]).toMatchObject({ type: FrameType.SEGMENT, seq: 2 ** 40, flags: SegmentFlag.START, totalLength: 70_000 });
    expect(Buffer.from((frames[2] as SegmentFrame).payload).toString()).toBe('last');
    expect(frames[3]).toMatchObject({ type: FrameType.DATAGRAM });
    expect(frames[4]).toEqual({ type: FrameType.PING });
    expect(frames[5]).toEqual({ type: FrameType.CLOSE, code: 2, reason: 'going away' });
  });

  it('acknowledges no packet before the first one', () => {
    const writer = new ByteWriter(64);
    writeAck(writer, { type: FrameType.ACK, largestPacket: -1, ackDelayMs: 0, lossPermille: 0, cumulative: 0, ranges: [] });
    expect(readFrames(writer.finish())[0]).toMatchObject({ largestPacket: -1 });
  });

  it('reject malformed payloads with ProtocolError', () => {
    expect(() => readFrames(Buffer.from([0x7f]))).toThrow(ProtocolError);
    expect(() => readFrames(Buffer.from([FrameType.DATAGRAM, 10, 1, 2]))).toThrow(ProtocolError);
    expect(() => readFrames(Buffer.from([FrameType.ACK, 1, 0, 0, 0, 1, 0, 1]))).toThrow(ProtocolError);
    expect(() => readFrames(Buffer.from([FrameType.SEGMENT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toThrow(ProtocolError);
  });
});

describe('udp packets', () => {
  it('pads INIT to the full datagram size and parses it back', () => {
    const cid = Buffer.alloc(8, 3);
    const datagram = encodeInit(cid, Buffer.alloc(32, 4), Buffer.alloc(32, 5), Buffer.alloc(20, 6));
    expect(datagram).toHaveLength(INIT_DATAGRAM_SIZE);
    const packet = parsePacket(datagram);
    expect(packet).toMatchObject({ type: PacketType.INIT, version: 1 });
    expect(packet?.cid.equals(cid)).toBe(true);
    expect(parsePacket(datagram.subarray(0, 1199))).toBeNull();
  });

  it('derives distinct nonces from packet numbers', () => {
    const iv = Buffer.alloc(12, 0xaa);
    const nonces = new Set([0, 1, 2 ** 32, 2 ** 32 + 1, 2 ** 48 - 1].map((pn) => packetNonce(iv, pn).toString('hex')));
    expect(nonces.size).toBe(5);
    expect(packetNonce(iv, 0).equals(iv)).toBe(true);
  });
});

describe('udp rtt estimator', () => {
  it('follows the RFC 6298 update rules', () => {
    const rtt = new RttEstimator(RTT_OPTIONS);
    expect(rtt.rto).toBe(500);
    rtt.addSample(100);
    expect(rtt.smoothedRtt).toBe(100);
    // SRTT + 4 * RTTVAR + max ACK delay = 100 + 4 * 50 + 10.
    expect(rtt.rto).toBe(310);
    rtt.addSample(200);
    // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5.
    expect(rtt.smoothedRtt).toBe(112.5);
    expect(rtt.rto).toBe(112.5 + 250 + 10);
  });

  it('clamps to the minimum and caps the back-off', () => {
    const rtt = new RttEstimator(RTT_OPTIONS);
    rtt.addSample(1);
    expect(rtt.rto).toBe(100);
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      seen.push(rtt.rto);
      rtt.backOff();
    }
    expect(seen).toEqual([100, 200, 400, 800, 1600, 2000, 2000, 2000]);
    rtt.addSample(1);
    expect(rtt.rto).toBe(100);
  });
});

describe('udp receiver', () => {
  it('reassembles out-of-order fragments in sequence order', () => {
    const delivered: string[] = [];
    const receiver = new ReliableReceiver(100, 16, (frame) => delivered.push(Buffer.from(frame).toString()));
    expect(receiver.onSegment(segment(2, SegmentFlag.END, 'ef'))).toBe('accepted');
    expect(receiver.onSegment(segment(1, 0, 'cd'))).toBe('accepted');
    expect(receiver.ackRanges()).toEqual({ cumulative: 0, ranges: [{ start: 1, end: 3 }] });
    expect(delivered).toEqual([]);
    receiver.onSegment(segment(0, SegmentFlag.START, 'ab', 6));
    receiver.onSegment(segment(3, SegmentFlag.START | SegmentFlag.END, 'g', 1));
    expect(delivered).toEqual(['abcdef', 'g']);
    expect(receiver.onSegment(segment(1, 0, 'cd'))).toBe('duplicate');
    expect(receiver.onSegment(segment(4 + 16, 0, 'x'))).toBe('beyond-window');
    expect(receiver.ackRanges()).toEqual({ cumulative: 4, ranges: [] });
  });

  it('rejects a declared length above maxFrameSize before buffering', () => {
    const receiver = new ReliableReceiver(10, 16, () => {});
    expect(() => receiver.onSegment(segment(0, SegmentFlag.START, 'abc', 11))).toThrow(FrameTooLargeError);
    expect(() => receiver.onSegment(segment(1, SegmentFlag.END, 'x'))).toThrow(FrameTooLargeError);
  });

  it('rejects inconsistent fragments with ProtocolError', () => {
    expect(() => new ReliableReceiver(10, 16, () => {}).onSegment(segment(0, SegmentFlag.END, 'x'))).toThrow(ProtocolError);
    expect(() => new ReliableReceiver(10, 16, () => {}).onSegment(segment(0, SegmentFlag.START | SegmentFlag.END, 'xy', 3))).toThrow(ProtocolError);
    const overflow = new ReliableReceiver(10, 16, () => {});
    overflow.onSegment(segment(0, SegmentFlag.START, 'ab', 3));
    expect(() => overflow.onSegment(segment(1, SegmentFlag.END, 'cd'))).toThrow(ProtocolError);
  });
});

describe('udp sender', () => {
  function sendAll(sender: ReliableSender, now: number, firstPn = 0): number {
    let pn = firstPn;
    for (let next = sender.peekNext(); next; next = sender.peekNext()) sender.markSent(next, pn++, now);
    return pn;
  }

  it('fast-retransmits a hole three packets behind the largest acknowledged', () => {
    const sender = new ReliableSender(RTT_OPTIONS, 64, 1000);
    for (let i = 0; i < 6; i++) sender.enqueue(Buffer.from(`f${i}`));
    sendAll(sender, 0);
    for (let pn = 0; pn < 6; pn++) sender.trackPacket(pn, 0);
    const outcome = sender.onAck({ type: FrameType.ACK, largestPacket: 5, ackDelayMs: 0, lossPermille: 0, cumulative: 1, ranges: [{ start: 2, end: 6 }] }, 1);
    expect(outcome).toEqual({ newlyAcked: 5, newlyLost: 1 });
    expect(sender.peekNext()?.seq).toBe(1);
  });

  it('does not declare loss above a truncated ACK', () => {
    const sender = new ReliableSender(RTT_OPTIONS, 256, 1000);
    for (let i = 0; i < 100; i++) sender.enqueue(Buffer.from(`f${i}`));
    sendAll(sender, 0);
    // 32 ranges (the maximum) over the odd sequence numbers 1..63; nothing is reported about 64 and above.
    const ranges = Array.from({ length: 32 }, (_, i) => ({ start: 2 * i + 1, end: 2 * i + 2 }));
    const outcome = sender.onAck({ type: FrameType.ACK, largestPacket: 99, ackDelayMs: 0, lossPermille: 0, cumulative: 0, ranges }, 1);
    expect(outcome.newlyAcked).toBe(32);
    expect(outcome.newlyLost).toBe(32);
  });

  it('queues expired segments on a retransmission timeout and backs off', () => {
    const sender = new ReliableSender(RTT_OPTIONS, 64, 1000);
    sender.enqueue(Buffer.from('only'));
    sendAll(sender, 0);
    expect(sender.rtoDeadline()).toBe(500);
    expect(sender.onRtoExpired(499)).toBe(0);
    expect(sender.onRtoExpired(500)).toBe(1);
    expect(sender.rtt.rto).toBe(1000);
    expect(sender.peekNext()?.seq).toBe(0);
  });

  it('fragments a frame and respects the peer window', () => {
    const sender = new ReliableSender(RTT_OPTIONS, 64, 10);
    sender.setPeerWindow(3);
    sender.enqueue(Buffer.alloc(45));
    expect(sender.bufferedBytes).toBe(45);
    const sent = sendAll(sender, 0);
    expect(sent).toBe(3);
    expect(sender.inFlightCount).toBe(3);
  });
});

describe('udp handshake messages', () => {
  it('derive mirrored traffic keys', () => {
    const server = parseStaticPrivateKey(generateUdpKeyPair().privateKey);
    const cid = Buffer.alloc(8, 1);
    const init = createClientInit(server.publicRaw, cid, { receiveWindow: 10 })!;
    const accepted = acceptClientInit(server, cid, init.ephemeral.publicRaw, init.ciphertext, { receiveWindow: 20 });
    expect(accepted.kind).toBe('accepted');
    if (accepted.kind !== 'accepted') return;
    expect(accepted.result.peer.receiveWindow).toBe(10);
    const client = finishClientHandshake(init, accepted.ephemeralPublic, accepted.ciphertext)!;
    expect(client.peer.receiveWindow).toBe(20);
    expect(client.keys.sendKey.equals(accepted.result.keys.receiveKey)).toBe(true);
    expect(client.keys.receiveKey.equals(accepted.result.keys.sendKey)).toBe(true);
    expect(client.keys.sendIv.equals(accepted.result.keys.receiveIv)).toBe(true);
    expect(client.keys.sendKey.equals(client.keys.receiveKey)).toBe(false);
  });

  it('bind the connection id into the transcript', () => {
    const server = parseStaticPrivateKey(generateUdpKeyPair().privateKey);
    const init = createClientInit(server.publicRaw, Buffer.alloc(8, 1), { receiveWindow: 10 })!;
    expect(acceptClientInit(server, Buffer.alloc(8, 2), init.ephemeral.publicRaw, init.ciphertext, { receiveWindow: 10 }).kind).toBe('rejected');
  });

  it('reject a RESPONSE from a server without the static key', () => {
    const server = parseStaticPrivateKey(generateUdpKeyPair().privateKey);
    const cid = Buffer.alloc(8, 1);
    const init = createClientInit(server.publicRaw, cid, { receiveWindow: 10 })!;
    const impostor = generateX25519();
    expect(finishClientHandshake(init, impostor.publicRaw, Buffer.alloc(20))).toBeNull();
    const accepted = acceptClientInit(server, cid, init.ephemeral.publicRaw, init.ciphertext, { receiveWindow: 20 });
    if (accepted.kind !== 'accepted') throw new Error('handshake unexpectedly rejected');
    const tampered = Buffer.from(accepted.ciphertext);
    tampered[0]! ^= 1;
    expect(finishClientHandshake(init, accepted.ephemeralPublic, tampered)).toBeNull();
  });
});
