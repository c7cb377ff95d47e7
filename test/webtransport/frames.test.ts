import { describe, expect, it } from 'vitest';
import { H3ErrorCode } from '../../transports/webtransport/h3/errors.js';
import {
  FrameParser,
  FrameType,
  decodeSettingsPayload,
  encodeDataFrame,
  encodeFrame,
  encodeGoawayFrame,
  encodeGreaseFrame,
  encodeHeadersFrame,
  encodeSettingsFrame,
  greaseValue,
  isGreaseValue,
  type H3FrameEvent,
} from '../../transports/webtransport/h3/frames.js';
import { encodeFieldSection } from '../../transports/webtransport/h3/qpack.js';
import { CHROMIUM_156_WEBTRANSPORT_SETTINGS, SettingId, serverSettings } from '../../transports/webtransport/h3/settings.js';
import { concatBytes, encodeVarint } from '../../transports/webtransport/h3/varint.js';
import { ascii, expectH3Code, hex } from './helpers.js';

/** Merges consecutive DATA pieces of one frame so that results compare equal however input was split. */
function normalize(events: H3FrameEvent[]): unknown[] {
  const out: unknown[] = [];
  let data: Uint8Array[] = [];
  let transportData: Uint8Array[] = [];
  for (const event of events) {
    if (event.type === 'data') {
      data.push(event.payload);
      if (event.final) {
        out.push({ type: 'data', payload: Buffer.from(concatBytes(data)).toString('hex') });
        data = [];
      }
    } else if (event.type === 'webtransport-data') {
      transportData.push(event.payload);
    } else {
      out.push(event);
    }
  }
  if (transportData.length > 0) out.push({ type: 'webtransport-data', payload: Buffer.from(concatBytes(transportData)).toString('hex') });
  return out;
}

function parseSplit(bytes: Uint8Array, cuts: number[], options: ConstructorParameters<typeof FrameParser>[0] = {}): unknown[] {
  const parser = new FrameParser(options);
  const events: H3FrameEvent[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    events.push(...parser.push(bytes.subarray(start, cut)));
    start = cut;
  }
  parser.finish();
  return normalize(events);
}

const headerSection = encodeFieldSection([{ name: ':status', value: '200' }]);

/** A stream with every frame kind the parser decodes, plus GREASE and unknown frames to skip. */
const MIXED_STREAM = concatBytes([
  encodeSettingsFrame([...CHROMIUM_156_WEBTRANSPORT_SETTINGS, [greaseValue(1234), 77n]]),
  encodeGreaseFrame(5, ascii('ignored payload')),
  encodeHeadersFrame(headerSection),
  encodeDataFrame(ascii('hello ')),
  encodeFrame(0x2f1n, ascii('unknown frame')),
  encodeDataFrame(new Uint8Array(0)),
  encodeDataFrame(ascii('world')),
  encodeGoawayFrame(2n ** 62n - 4n),
]);

describe('frame parser', () => {
  it('parses a mixed stream in one chunk', () => {
    const events = parseSplit(MIXED_STREAM, []);
    expect(events).toEqual([
      { type: 'settings', settings: new Map([...CHROMIUM_156_WEBTRANSPORT_SETTINGS, [greaseValue(1234), 77n]]) },
      { type: 'headers', fieldSection: headerSection },
      { type: 'data', payload: Buffer.from('hello ').toString('hex') },
      { type: 'data', payload: '' },
      { type: 'data', payload: Buffer.from('world').toString('hex') },
      { type: 'goaway', id: 2n ** 62n - 4n },
    ]);
  });

  it('gives the same events for input split at every byte offset', () => {
    const whole = parseSplit(MIXED_STREAM, []);
    for (let cut = 0; cut <= MIXED_STREAM.length; cut++) {
      expect(parseSplit(MIXED_STREAM, [cut]), `split at ${cut}`).toEqual(whole);
    }
  });

  it('gives the same events for input fed one byte at a time', () => {
    const cuts = Array.from({ length: MIXED_STREAM.length }, (_, i) => i);
    expect(parseSplit(MIXED_STREAM, cuts)).toEqual(parseSplit(MIXED_STREAM, []));
  });

  it('gives the same events for every pair of split offsets', () => {
    const whole = parseSplit(MIXED_STREAM, []);
    for (let first = 0; first <= MIXED_STREAM.length; first += 3) {
      for (let second = first; second <= MIXED_STREAM.length; second += 5) {
        expect(parseSplit(MIXED_STREAM, [first, second])).toEqual(whole);
      }
    }
  });

  it('streams a DATA frame larger than maxFrameSize', () => {
    const payload = new Uint8Array(5000).fill(7);
    const events = parseSplit(encodeDataFrame(payload), [1000, 3000], { maxFrameSize: 100 });
    expect(events).toEqual([{ type: 'data', payload: Buffer.from(payload).toString('hex') }]);
  });

  it('rejects a buffered frame above maxFrameSize from its header alone', () => {
    const parser = new FrameParser({ maxFrameSize: 100 });
    const frame = encodeHeadersFrame(new Uint8Array(101));
    expectH3Code(() => parser.push(frame.subarray(0, 3)), H3ErrorCode.H3_EXCESSIVE_LOAD);
    expectH3Code(() => parser.push(new Uint8Array(1)), H3ErrorCode.H3_EXCESSIVE_LOAD);
  });

  it('skips a large unknown frame without buffering it', () => {
    const frame = encodeFrame(greaseValue(3), new Uint8Array(1_000_000));
    expect(parseSplit(concatBytes([frame, encodeGoawayFrame(8)]), [10, 500_000], { maxFrameSize: 16 })).toEqual([{ type: 'goaway', id: 8n }]);
  });

  it('reports a stream that ends inside a frame', () => {
    const frame = encodeHeadersFrame(headerSection);
    for (let cut = 1; cut < frame.length; cut++) {
      const parser = new FrameParser();
      parser.push(frame.subarray(0, cut));
      expectH3Code(() => parser.finish(), H3ErrorCode.H3_FRAME_ERROR);
    }
  });

  it('rejects reserved HTTP/2 frame types', () => {
    for (const type of [0x02, 0x06, 0x08, 0x09]) {
      expectH3Code(() => new FrameParser().push(encodeFrame(type, new Uint8Array(0))), H3ErrorCode.H3_FRAME_UNEXPECTED);
    }
  });

  it('rejects GOAWAY payloads that are not one varint', () => {
    expectH3Code(() => new FrameParser().push(encodeFrame(FrameType.GOAWAY, hex('0405'))), H3ErrorCode.H3_FRAME_ERROR);
    expectH3Code(() => new FrameParser().push(encodeFrame(FrameType.GOAWAY, hex('40'))), H3ErrorCode.H3_FRAME_ERROR);
    expectH3Code(() => new FrameParser().push(encodeFrame(FrameType.GOAWAY, new Uint8Array(0))), H3ErrorCode.H3_FRAME_ERROR);
  });

  it('parses MAX_PUSH_ID, CANCEL_PUSH and PUSH_PROMISE', () => {
    const stream = concatBytes([
      encodeFrame(FrameType.MAX_PUSH_ID, encodeVarint(9)),
      encodeFrame(FrameType.CANCEL_PUSH, encodeVarint(3)),
      encodeFrame(FrameType.PUSH_PROMISE, concatBytes([encodeVarint(3), headerSection])),
    ]);
    expect(parseSplit(stream, [])).toEqual([
      { type: 'max-push-id', pushId: 9n },
      { type: 'cancel-push', pushId: 3n },
      { type: 'push-promise', pushId: 3n, fieldSection: headerSection },
    ]);
  });

  it('stays failed after an error', () => {
    const parser = new FrameParser();
    expectH3Code(() => parser.push(encodeFrame(0x02, new Uint8Array(0))), H3ErrorCode.H3_FRAME_UNEXPECTED);
    expectH3Code(() => parser.push(encodeGoawayFrame(0)), H3ErrorCode.H3_FRAME_UNEXPECTED);
  });

  it('recognises GREASE values', () => {
    expect(greaseValue(0)).toBe(0x21n);
    expect(isGreaseValue(0x21n + 0x1fn * 1000n)).toBe(true);
    expect(isGreaseValue(0x22n)).toBe(false);
    expect(isGreaseValue(0x04n)).toBe(false);
  });
});

describe('frame parser stream rules', () => {
  const settings = encodeSettingsFrame(serverSettings());

  it('requires SETTINGS first on a control stream', () => {
    expectH3Code(() => new FrameParser({ stream: 'control' }).push(encodeGoawayFrame(0)), H3ErrorCode.H3_MISSING_SETTINGS);
    expectH3Code(() => new FrameParser({ stream: 'control' }).push(encodeGreaseFrame(1)), H3ErrorCode.H3_MISSING_SETTINGS);
  });

  it('rejects a second SETTINGS and request frames on a control stream', () => {
    expectH3Code(() => new FrameParser({ stream: 'control' }).push(concatBytes([settings, settings])), H3ErrorCode.H3_FRAME_UNEXPECTED);
    expectH3Code(() => new FrameParser({ stream: 'control' }).push(concatBytes([settings, encodeDataFrame(ascii('x'))])), H3ErrorCode.H3_FRAME_UNEXPECTED);
    expectH3Code(() => new FrameParser({ stream: 'control' }).push(concatBytes([settings, encodeHeadersFrame(headerSection)])), H3ErrorCode.H3_FRAME_UNEXPECTED);
  });

  it('accepts SETTINGS then GOAWAY and GREASE on a control stream', () => {
    const events = parseSplit(concatBytes([settings, encodeGreaseFrame(2, ascii('x')), encodeGoawayFrame(0)]), [], { stream: 'control' });
    expect(events.map((event) => (event as H3FrameEvent).type)).toEqual(['settings', 'goaway']);
  });

  it('rejects control frames on a request stream', () => {
    for (const frame of [settings, encodeGoawayFrame(0), encodeFrame(FrameType.MAX_PUSH_ID, encodeVarint(1))]) {
      expectH3Code(() => new FrameParser({ stream: 'request' }).push(frame), H3ErrorCode.H3_FRAME_UNEXPECTED);
    }
  });

  it('turns a request stream into WebTransport data after the signal', () => {
    const stream = concatBytes([encodeVarint(0x41), encodeVarint(8), ascii('raw bytes, not frames: \x02\x06')]);
    const whole = parseSplit(stream, [], { stream: 'request' });
    expect(whole).toEqual([
      { type: 'webtransport-stream', sessionId: 8 },
      { type: 'webtransport-data', payload: Buffer.from('raw bytes, not frames: \x02\x06', 'latin1').toString('hex') },
    ]);
    for (let cut = 0; cut <= stream.length; cut++) expect(parseSplit(stream, [cut], { stream: 'request' })).toEqual(whole);
  });

  it('rejects late or invalid WebTransport signals', () => {
    const late = concatBytes([encodeHeadersFrame(headerSection), encodeVarint(0x41), encodeVarint(0)]);
    expectH3Code(() => new FrameParser({ stream: 'request' }).push(late), H3ErrorCode.H3_FRAME_UNEXPECTED);
    expectH3Code(() => new FrameParser({ stream: 'request' }).push(concatBytes([encodeVarint(0x41), encodeVarint(2)])), H3ErrorCode.H3_ID_ERROR);
  });
});

describe('settings payload', () => {
  it('round-trips Chromium 156 settings', () => {
    const frame = encodeSettingsFrame(CHROMIUM_156_WEBTRANSPORT_SETTINGS);
    const [event] = new FrameParser({ stream: 'control' }).push(frame);
    expect(event).toEqual({ type: 'settings', settings: CHROMIUM_156_WEBTRANSPORT_SETTINGS });
  });

  it('decodes hand-assembled Chromium-style bytes', () => {
    // 0x2b603742 = 1, 0x33 = 1, 0xffd277 = 1 as 4-byte, 2-byte and 4-byte identifiers.
    const payload = hex('ab603742 01 4033 01 80ffd277 01');
    expect(decodeSettingsPayload(payload)).toEqual(CHROMIUM_156_WEBTRANSPORT_SETTINGS);
  });

  it('round-trips the server settings', () => {
    const settings = serverSettings({ maxSessions: 4, maxFieldSectionSize: 16_384 });
    expect(decodeSettingsPayload(encodeSettingsFrame(settings).subarray(2))).toEqual(settings);
  });

  it('rejects duplicates and reserved HTTP/2 identifiers', () => {
    expectH3Code(() => decodeSettingsPayload(hex('0600 0601')), H3ErrorCode.H3_SETTINGS_ERROR);
    for (const id of ['02', '03', '04', '05']) expectH3Code(() => decodeSettingsPayload(hex(`${id}00`)), H3ErrorCode.H3_SETTINGS_ERROR);
    expectH3Code(() => encodeSettingsFrame([[0x04, 1]]), H3ErrorCode.H3_SETTINGS_ERROR);
    expectH3Code(() => encodeSettingsFrame([[0x06, 1], [0x06n, 2]]), H3ErrorCode.H3_SETTINGS_ERROR);
  });

  it('rejects a payload that ends inside a setting', () => {
    expectH3Code(() => decodeSettingsPayload(hex('06')), H3ErrorCode.H3_FRAME_ERROR);
    expectH3Code(() => decodeSettingsPayload(hex('06 40')), H3ErrorCode.H3_FRAME_ERROR);
  });

  it('rejects boolean settings other than 0 or 1', () => {
    expectH3Code(() => decodeSettingsPayload(hex('08 02')), H3ErrorCode.H3_SETTINGS_ERROR);
    expectH3Code(() => decodeSettingsPayload(hex('4033 02')), H3ErrorCode.H3_SETTINGS_ERROR);
    expect(decodeSettingsPayload(hex('08 00')).get(SettingId.ENABLE_CONNECT_PROTOCOL)).toBe(0n);
  });
});
