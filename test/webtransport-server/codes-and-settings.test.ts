// Pure parts of the WebTransport layer: the WebTransport error code space, the origin policy,
// settings validation, and the connect-stream parser's handling of bare capsules.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { ConnectStreamReader } from '../../transports/webtransport/connect-stream.js';
import { http3CodeToWebTransport, webTransportCodeToHttp3 } from '../../transports/webtransport/errors.js';
import { encodeCloseSessionCapsule, encodeDrainSessionCapsule } from '../../transports/webtransport/h3/capsules.js';
import { H3ErrorCode } from '../../transports/webtransport/h3/errors.js';
import { encodeDataFrame, encodeGreaseFrame, encodeHeadersFrame, isGreaseValue } from '../../transports/webtransport/h3/frames.js';
import { concatBytes } from '../../transports/webtransport/h3/varint.js';
import { originPolicy } from '../../transports/webtransport/origin.js';
import { webTransportSettings } from '../../transports/webtransport/settings.js';
import { expectH3Code } from '../webtransport/helpers.js';

describe('webtransport error codes', () => {
  it('maps code 0 to the first code of the range', () => {
    expect(webTransportCodeToHttp3(0)).toBe(0x52e4a40fa8dbn);
  });

  it('skips GREASE values and round-trips', () => {
    for (let code = 0; code < 2_000; code += 1) {
      const http3 = webTransportCodeToHttp3(code);
      expect(isGreaseValue(http3), `code ${code}`).toBe(false);
      expect(http3CodeToWebTransport(http3)).toBe(code);
    }
    expect(http3CodeToWebTransport(webTransportCodeToHttp3(0xffffffff))).toBe(0xffffffff);
  });

  it('returns null outside the range and for GREASE values', () => {
    expect(http3CodeToWebTransport(BigInt(H3ErrorCode.H3_NO_ERROR))).toBeNull();
    const grease = webTransportCodeToHttp3(29) + 1n;
    expect(isGreaseValue(grease)).toBe(true);
    expect(http3CodeToWebTransport(grease)).toBeNull();
  });

  it('rejects codes beyond 32 bits', () => {
    expect(() => webTransportCodeToHttp3(2 ** 32)).toThrow(RangeError);
  });
});

describe('webtransport origin policy', () => {
  it('accepts loopback pages by default', () => {
    const check = originPolicy(undefined);
    expect(check('http://localhost:8080')).toEqual({ allowed: true });
    expect(check('https://127.0.0.1')).toEqual({ allowed: true });
    expect(check('http://[::1]:3000')).toEqual({ allowed: true });
    expect(check('https://localhost.evil.example').allowed).toBe(false);
    expect(check(undefined).allowed).toBe(false);
  });

  it('compares listed origins after normalisation', () => {
    const check = originPolicy(['https://App.example:443']);
    expect(check('https://app.example')).toEqual({ allowed: true });
    expect(check('http://app.example').allowed).toBe(false);
  });

  it('accepts anything with a wildcard', () => {
    const check = originPolicy('*');
    expect(check('https://anywhere.example')).toEqual({ allowed: true });
    expect(check(undefined)).toEqual({ allowed: true });
  });
});

describe('webtransport settings', () => {
  it('fixes ALPN to h3 and keeps datagrams on', () => {
    const settings = webTransportSettings('server', undefined);
    expect(settings.quic.alpnProtocols).toEqual(['h3']);
    expect(settings.quic.datagrams).toBe(true);
    expect(settings.path).toBe('/pushlab');
  });

  it('rejects invalid values', () => {
    expect(() => webTransportSettings('server', { alpnProtocols: ['x'] })).toThrow(ConfigError);
    expect(() => webTransportSettings('server', { datagrams: false })).toThrow(ConfigError);
    expect(() => webTransportSettings('server', { path: 'pushlab' })).toThrow(ConfigError);
    expect(() => webTransportSettings('server', { path: '/a?b' })).toThrow(ConfigError);
    expect(() => webTransportSettings('server', { allowedOrigins: 'https://x.example' })).toThrow(ConfigError);
    expect(() => webTransportSettings('server', { certificateManager: 'acme' })).toThrow(ConfigError);
    expect(() => webTransportSettings('server', { maxSessionsPerConnection: 0 })).toThrow(ConfigError);
    expect(() => webTransportSettings('client', { certificateHashes: [{ algorithm: 'md5', value: 'x' }] })).toThrow(ConfigError);
    expect(() => webTransportSettings('client', { origin: '' })).toThrow(ConfigError);
  });
});

describe('connect stream reader', () => {
  const headers = encodeHeadersFrame(Uint8Array.of(0, 0, 0xd9));

  it('reads capsules inside DATA frames and bare', () => {
    const reader = new ConnectStreamReader({ maxFieldSectionSize: 1024 });
    const bytes = concatBytes([headers, encodeDataFrame(encodeDrainSessionCapsule()), encodeGreaseFrame(2, Uint8Array.of(1)), encodeCloseSessionCapsule(4, 'bye')]);
    const events = bytes.reduce<ReturnType<ConnectStreamReader['push']>>((all, byte) => [...all, ...reader.push(Uint8Array.of(byte))], []);
    expect(events.map((event) => event.type)).toEqual(['headers', 'capsule', 'capsule']);
    expect(events[1]).toMatchObject({ capsule: { type: 'drain-session' }, bare: false });
    expect(events[2]).toMatchObject({ capsule: { type: 'close-session', code: 4, message: 'bye' }, bare: true });
  });

  it('rejects DATA and capsules before HEADERS', () => {
    expectH3Code(() => new ConnectStreamReader({ maxFieldSectionSize: 1024 }).push(encodeDataFrame(Uint8Array.of(1))), H3ErrorCode.H3_FRAME_UNEXPECTED);
    expectH3Code(() => new ConnectStreamReader({ maxFieldSectionSize: 1024 }).push(encodeCloseSessionCapsule(0)), H3ErrorCode.H3_FRAME_UNEXPECTED);
  });

  it('rejects an oversized HEADERS frame before buffering it', () => {
    expectH3Code(() => new ConnectStreamReader({ maxFieldSectionSize: 16 }).push(encodeHeadersFrame(new Uint8Array(17)).subarray(0, 3)), H3ErrorCode.H3_EXCESSIVE_LOAD);
  });

  it('rejects a capsule cut short by the end of the stream', () => {
    const reader = new ConnectStreamReader({ maxFieldSectionSize: 1024 });
    const capsule = encodeCloseSessionCapsule(1, 'x');
    reader.push(concatBytes([headers, encodeDataFrame(capsule.subarray(0, 3))]));
    expectH3Code(() => reader.finish(), H3ErrorCode.H3_DATAGRAM_ERROR);
  });
});
