// Malformed HTTP/3 input from a raw QUIC client: each violation closes that connection with the
// HTTP/3 error code RFC 9114 / RFC 9204 / RFC 9297 name, and seeded random input never ends the
// process or the listener.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom, type Random } from '../../src/random.js';
import { encodeCapsule } from '../../transports/webtransport/h3/capsules.js';
import { H3ErrorCode } from '../../transports/webtransport/h3/errors.js';
import { encodeDataFrame, encodeFrame, encodeGoawayFrame, encodeSettingsFrame } from '../../transports/webtransport/h3/frames.js';
import { CHROMIUM_156_WEBTRANSPORT_SETTINGS, UniStreamType, encodeUniStreamType, encodeWebTransportBidiPrefix } from '../../transports/webtransport/h3/settings.js';
import { concatBytes, encodeVarint } from '../../transports/webtransport/h3/varint.js';
import { connectHeaders, controlStream, rawSession } from './h3-bytes.js';
import { Recorder, bytes, dial, payload, startServer, until, watchProcessFaults, type ServerHarness } from './helpers.js';
import { RawH3Peer, type ConnectionEnd } from './raw-h3-peer.js';

watchProcessFaults();

let harness: ServerHarness;
beforeAll(async () => {
  harness = await startServer({ settings: { handshakeTimeoutMs: 2_000 } });
});
afterAll(async () => {
  await harness.listener.close();
});

/** Every application code the server may close a connection with. */
const H3_CODES = new Set<number>(Object.values(H3ErrorCode));

async function endOf(send: (peer: RawH3Peer) => void, options: { session?: boolean; waitMs?: number } = {}): Promise<ConnectionEnd | null> {
  const peer = options.session ? await rawSession(harness.port) : await RawH3Peer.connect(harness.port);
  try {
    send(peer);
    return await peer.waitForClose(options.waitMs ?? 3_000);
  } finally {
    await peer.close();
  }
}

function randomBytes(random: Random, maxLength: number): Uint8Array {
  return Uint8Array.from({ length: 1 + Math.floor(random() * maxLength) }, () => Math.floor(random() * 256));
}

/** Flips, replaces, inserts or deletes a few bytes of a valid input. */
function mutate(random: Random, input: Uint8Array): Uint8Array {
  const out = Array.from(input);
  const edits = 1 + Math.floor(random() * 4);
  for (let edit = 0; edit < edits; edit += 1) {
    const at = Math.floor(random() * out.length);
    const choice = random();
    if (choice < 0.4) out[at] = out[at]! ^ (1 << Math.floor(random() * 8));
    else if (choice < 0.6) out[at] = Math.floor(random() * 256);
    else if (choice < 0.8) out.splice(at, 0, Math.floor(random() * 256));
    else out.splice(at, 1);
  }
  return Uint8Array.from(out);
}

describe('webtransport malformed input', () => {
  const cases: Array<[string, (peer: RawH3Peer) => void, number, { session?: boolean }?]> = [
    ['control stream not starting with SETTINGS', (peer) => peer.openUni(concatBytes([encodeUniStreamType(UniStreamType.CONTROL), encodeGoawayFrame(0)])), H3ErrorCode.H3_MISSING_SETTINGS],
    ['second SETTINGS frame', (peer) => peer.openUni(concatBytes([controlStream(), encodeSettingsFrame([])])), H3ErrorCode.H3_FRAME_UNEXPECTED],
    ['DATA frame on the control stream', (peer) => peer.openUni(concatBytes([controlStream(), encodeDataFrame(Uint8Array.of(1))])), H3ErrorCode.H3_FRAME_UNEXPECTED],
    ['HTTP/2 setting id', (peer) => peer.openUni(concatBytes([encodeUniStreamType(UniStreamType.CONTROL), encodeSettingsFrame([]).subarray(0, 1), Uint8Array.of(2, 0x02, 0x00)])), H3ErrorCode.H3_SETTINGS_ERROR],
    ['second control stream', (peer) => { peer.openUni(controlStream()); peer.openUni(controlStream()); }, H3ErrorCode.H3_STREAM_CREATION_ERROR],
    ['control stream closed', (peer) => peer.openUni(controlStream(), true), H3ErrorCode.H3_CLOSED_CRITICAL_STREAM],
    ['push stream from a client', (peer) => peer.openUni(encodeUniStreamType(UniStreamType.PUSH)), H3ErrorCode.H3_STREAM_CREATION_ERROR],
    ['QPACK insert into a table of capacity 0', (peer) => peer.openUni(Uint8Array.of(0x02, 0xc0 | 1, 0x01, 0x61)), H3ErrorCode.QPACK_ENCODER_STREAM_ERROR],
    ['QPACK section acknowledgment', (peer) => peer.openUni(Uint8Array.of(0x03, 0x80)), H3ErrorCode.QPACK_DECODER_STREAM_ERROR],
    ['HEADERS with a dynamic table reference', (peer) => { peer.openUni(controlStream()); peer.openBidi(encodeFrame(0x01, Uint8Array.of(0x00, 0x00, 0x80))); }, H3ErrorCode.QPACK_DECOMPRESSION_FAILED],
    ['DATA before HEADERS', (peer) => peer.openBidi(encodeDataFrame(Uint8Array.of(1, 2))), H3ErrorCode.H3_FRAME_UNEXPECTED],
    ['SETTINGS on a request stream', (peer) => peer.openBidi(concatBytes([connectHeaders(harness.port), encodeSettingsFrame([])])), H3ErrorCode.H3_FRAME_UNEXPECTED],
    ['frame cut short by FIN', (peer) => { peer.openUni(controlStream()); peer.openBidi(connectHeaders(harness.port).subarray(0, 5), true); }, H3ErrorCode.H3_FRAME_ERROR],
    ['WebTransport stream for an odd session id', (peer) => peer.openBidi(concatBytes([encodeVarint(0x41), encodeVarint(3)])), H3ErrorCode.H3_ID_ERROR],
    ['datagram without a Quarter Stream ID', (peer) => peer.sendDatagram(new Uint8Array(0)), H3ErrorCode.H3_DATAGRAM_ERROR, { session: true }],
    ['CLOSE capsule too short', (peer) => peer.write(0, encodeDataFrame(encodeCapsule(0x2843, Uint8Array.of(1)))), H3ErrorCode.H3_DATAGRAM_ERROR, { session: true }],
  ];

  it.each(cases)('closes on %s', async (_name, send, code, options) => {
    const end = await endOf(send, options ?? {});
    expect(end).toEqual({ isApp: true, errorCode: code });
  });

  it('ignores unknown stream types and GREASE frames', async () => {
    const end = await endOf(
      (peer) => {
        peer.openUni(concatBytes([controlStream(CHROMIUM_156_WEBTRANSPORT_SETTINGS), encodeFrame(0x21 + 0x1f * 3, Uint8Array.of(1, 2, 3))]));
        peer.openUni(concatBytes([encodeVarint(0x21 + 0x1f), Uint8Array.of(9, 9, 9)]));
      },
      { waitMs: 300 },
    );
    expect(end).toBeNull();
  });

  it('survives seeded random input on every stream kind', async () => {
    const random = seededRandom(0x5eed);
    const validControl = concatBytes([controlStream(), encodeGoawayFrame(0)]);
    const validRequest = connectHeaders(harness.port);
    const targets: Array<{ session: boolean; send: (peer: RawH3Peer) => void }> = [
      { session: false, send: (peer) => peer.openUni(concatBytes([encodeUniStreamType(UniStreamType.CONTROL), mutate(random, validControl.subarray(1))])) },
      { session: false, send: (peer) => peer.openUni(concatBytes([encodeUniStreamType(UniStreamType.CONTROL), randomBytes(random, 64)])) },
      { session: false, send: (peer) => { peer.openUni(controlStream()); peer.openBidi(mutate(random, validRequest), random() < 0.5); } },
      { session: false, send: (peer) => { peer.openUni(controlStream()); peer.openBidi(randomBytes(random, 128)); } },
      { session: false, send: (peer) => peer.openUni(randomBytes(random, 64)) },
      { session: false, send: (peer) => peer.openUni(concatBytes([Uint8Array.of(random() < 0.5 ? 0x02 : 0x03), randomBytes(random, 32)])) },
      { session: true, send: (peer) => peer.write(0, randomBytes(random, 96), random() < 0.3) },
      { session: true, send: (peer) => peer.write(0, encodeDataFrame(randomBytes(random, 64))) },
      { session: true, send: (peer) => { for (let count = 0; count < 5; count += 1) peer.sendDatagram(randomBytes(random, 48)); } },
      { session: true, send: (peer) => peer.openBidi(concatBytes([encodeWebTransportBidiPrefix(0), randomBytes(random, 64)])) },
      { session: true, send: (peer) => peer.openUni(concatBytes([encodeUniStreamType(UniStreamType.WEBTRANSPORT), randomBytes(random, 16)])) },
    ];
    const rounds = 3;
    let closedWithError = 0;
    for (let round = 0; round < rounds; round += 1) {
      for (const target of targets) {
        const end = await endOf(target.send, { session: target.session, waitMs: 250 });
        if (end === null) continue;
        expect(end.isApp).toBe(true);
        expect(H3_CODES.has(end.errorCode), `close code 0x${end.errorCode.toString(16)}`).toBe(true);
        if (end.errorCode !== H3ErrorCode.H3_NO_ERROR) closedWithError += 1;
      }
    }
    expect(closedWithError).toBeGreaterThan(0);
    expect(harness.listener.stats.protocolErrors).toBeGreaterThanOrEqual(closedWithError);

    // The listener still serves a well-behaved client.
    const acceptedBefore = harness.accepted.length;
    const connection = await dial(harness);
    new Recorder(connection).connection.send(payload(64, 1));
    await until(() => harness.accepted.length > acceptedBefore, 'the well-behaved session');
    const server = harness.accepted[acceptedBefore]!;
    await server.frameCount(1);
    expect(bytes(server.frames[0])).toEqual(payload(64, 1));
    connection.destroy();
  });
});
