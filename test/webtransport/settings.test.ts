import { describe, expect, it } from 'vitest';
import { H3ErrorCode } from '../../transports/webtransport/h3/errors.js';
import {
  CHROMIUM_156_WEBTRANSPORT_SETTINGS,
  SettingId,
  encodeDatagram,
  encodeWebTransportBidiPrefix,
  encodeWebTransportUniPrefix,
  parseBidiStreamPrefix,
  parseDatagram,
  parseUniStreamPrefix,
  peerSupportsWebTransport,
  serverSettings,
  webTransportSupport,
} from '../../transports/webtransport/h3/settings.js';
import { encodeVarint } from '../../transports/webtransport/h3/varint.js';
import { ascii, expectH3Code, hex, toHex } from './helpers.js';

describe('webtransport settings', () => {
  it('accepts what Chromium 156 sends', () => {
    expect(peerSupportsWebTransport(CHROMIUM_156_WEBTRANSPORT_SETTINGS)).toBe(true);
    expect(webTransportSupport(CHROMIUM_156_WEBTRANSPORT_SETTINGS)).toMatchObject({ draft02: true, datagrams: true, connectProtocol: false });
  });

  it('accepts newer drafts announcing max sessions and either datagram setting', () => {
    expect(peerSupportsWebTransport(new Map([[SettingId.WEBTRANSPORT_MAX_SESSIONS, 2n], [SettingId.H3_DATAGRAM, 1n]]))).toBe(true);
    expect(peerSupportsWebTransport(new Map([[SettingId.ENABLE_WEBTRANSPORT_DRAFT02, 1n], [SettingId.H3_DATAGRAM_DRAFT04, 1n]]))).toBe(true);
  });

  it('rejects peers without WebTransport or datagrams', () => {
    expect(peerSupportsWebTransport(new Map([[SettingId.H3_DATAGRAM, 1n]]))).toBe(false);
    expect(peerSupportsWebTransport(new Map([[SettingId.ENABLE_WEBTRANSPORT_DRAFT02, 1n]]))).toBe(false);
    expect(peerSupportsWebTransport(new Map([[SettingId.WEBTRANSPORT_MAX_SESSIONS, 0n], [SettingId.H3_DATAGRAM, 1n]]))).toBe(false);
    expect(webTransportSupport(new Map()).missing).toHaveLength(2);
  });

  it('sends everything Chromium needs and the newer settings', () => {
    const settings = serverSettings();
    expect(settings.get(SettingId.ENABLE_WEBTRANSPORT_DRAFT02)).toBe(1n);
    expect(settings.get(SettingId.H3_DATAGRAM)).toBe(1n);
    expect(settings.get(SettingId.H3_DATAGRAM_DRAFT04)).toBe(1n);
    expect(settings.get(SettingId.ENABLE_CONNECT_PROTOCOL)).toBe(1n);
    expect(settings.get(SettingId.WEBTRANSPORT_MAX_SESSIONS)).toBe(1n);
    expect(settings.get(SettingId.QPACK_MAX_TABLE_CAPACITY)).toBe(0n);
    expect(peerSupportsWebTransport(settings)).toBe(true);
    expect(serverSettings({ maxSessions: 8 }).get(SettingId.WEBTRANSPORT_MAX_SESSIONS)).toBe(8n);
    expect(() => serverSettings({ maxSessions: 0 })).toThrow(RangeError);
  });
});

describe('webtransport stream prefixes', () => {
  it('encodes and parses unidirectional prefixes', () => {
    const prefix = encodeWebTransportUniPrefix(4);
    expect(toHex(prefix)).toBe('405404');
    expect(parseUniStreamPrefix(prefix)).toEqual({ kind: 'webtransport', sessionId: 4, length: 3 });
    expect(parseUniStreamPrefix(prefix.subarray(0, 2))).toBeNull();
    expect(parseUniStreamPrefix(hex('00'))).toEqual({ kind: 'control', length: 1 });
    expect(parseUniStreamPrefix(hex('02'))).toEqual({ kind: 'qpack-encoder', length: 1 });
    expect(parseUniStreamPrefix(hex('03'))).toEqual({ kind: 'qpack-decoder', length: 1 });
    expect(parseUniStreamPrefix(hex('01'))).toEqual({ kind: 'push', length: 1 });
    expect(parseUniStreamPrefix(encodeVarint(0x21n + 0x1fn * 5n))).toEqual({ kind: 'unknown', streamType: 0x21n + 0x1fn * 5n, length: 2 });
    expect(parseUniStreamPrefix(new Uint8Array(0))).toBeNull();
  });

  it('encodes and parses bidirectional prefixes', () => {
    const prefix = encodeWebTransportBidiPrefix(0);
    expect(toHex(prefix)).toBe('404100');
    expect(parseBidiStreamPrefix(prefix)).toEqual({ kind: 'webtransport', sessionId: 0, length: 3 });
    expect(parseBidiStreamPrefix(prefix.subarray(0, 2))).toBeNull();
    expect(parseBidiStreamPrefix(hex('0103'))).toEqual({ kind: 'request', length: 0 });
    // 0x41 is above 63, so the signal always takes the two-byte form.
    expect(parseBidiStreamPrefix(hex('4041 4004'))).toEqual({ kind: 'webtransport', sessionId: 4, length: 4 });
  });

  it('rejects session ids that are not client-initiated bidirectional streams', () => {
    expectH3Code(() => parseUniStreamPrefix(hex('4054 02')), H3ErrorCode.H3_ID_ERROR);
    expectH3Code(() => parseBidiStreamPrefix(hex('4041 03')), H3ErrorCode.H3_ID_ERROR);
    expectH3Code(() => encodeWebTransportUniPrefix(5), H3ErrorCode.H3_ID_ERROR);
  });
});

describe('webtransport datagrams', () => {
  it('prefixes the quarter stream id', () => {
    const datagram = encodeDatagram(8, ascii('hi'));
    expect(toHex(datagram)).toBe('026869');
    expect(parseDatagram(datagram)).toEqual({ sessionId: 8, payload: ascii('hi') });
    expect(parseDatagram(encodeDatagram(4 * 100, new Uint8Array(0)))).toEqual({ sessionId: 400, payload: new Uint8Array(0) });
  });

  it('rejects a missing or too large quarter stream id', () => {
    expectH3Code(() => parseDatagram(new Uint8Array(0)), H3ErrorCode.H3_DATAGRAM_ERROR);
    expectH3Code(() => parseDatagram(hex('40')), H3ErrorCode.H3_DATAGRAM_ERROR);
    expectH3Code(() => parseDatagram(encodeVarint(1n << 60n)), H3ErrorCode.H3_DATAGRAM_ERROR);
  });

  it('drops datagrams for stream ids no number can hold', () => {
    expect(parseDatagram(encodeVarint((1n << 60n) - 1n))).toBeNull();
  });
});
