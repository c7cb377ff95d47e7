import { describe, expect, it } from 'vitest';
import {
  validateResponse,
  validateWebTransportConnect,
  webTransportConnectFields,
  webTransportResponseFields,
  type WebTransportConnectRequest,
} from '../../transports/webtransport/h3/connect-request.js';
import { H3Error, H3ErrorCode } from '../../transports/webtransport/h3/errors.js';
import { decodeFieldSection, encodeFieldSection, type HeaderField } from '../../transports/webtransport/h3/qpack.js';

const VALID: HeaderField[] = webTransportConnectFields({ authority: 'localhost:4433', path: '/push?device=7', origin: 'http://localhost:8080' });

function expectMalformed(result: WebTransportConnectRequest | H3Error | unknown, fragment: string): void {
  expect(result).toBeInstanceOf(H3Error);
  expect((result as H3Error).h3Code).toBe(H3ErrorCode.H3_MESSAGE_ERROR);
  expect((result as H3Error).message).toContain(fragment);
}

function replace(name: string, value: string | undefined): HeaderField[] {
  const fields = VALID.filter((field) => field.name !== name);
  if (value === undefined) return fields;
  return name.startsWith(':') ? [{ name, value }, ...fields] : [...fields, { name, value }];
}

describe('extended CONNECT validation', () => {
  it('accepts a request built by webTransportConnectFields after a QPACK round trip', () => {
    const fields = decodeFieldSection(encodeFieldSection(VALID));
    const request = validateWebTransportConnect(fields);
    expect(request).toEqual({
      authority: 'localhost:4433',
      path: '/push?device=7',
      protocol: 'webtransport',
      origin: 'http://localhost:8080',
      draft02: true,
      headers: [
        { name: 'origin', value: 'http://localhost:8080' },
        { name: 'sec-webtransport-http3-draft02', value: '1' },
      ],
    });
  });

  it('accepts a request without origin or draft marker', () => {
    const fields = webTransportConnectFields({ authority: 'a', path: '/', draft02: false });
    expect(validateWebTransportConnect(fields)).toMatchObject({ origin: undefined, draft02: false, headers: [] });
  });

  it('rejects wrong or missing pseudo-headers', () => {
    expectMalformed(validateWebTransportConnect(replace(':method', 'GET')), ':method');
    expectMalformed(validateWebTransportConnect(replace(':protocol', 'websocket')), ':protocol');
    expectMalformed(validateWebTransportConnect(replace(':protocol', undefined)), ':protocol');
    expectMalformed(validateWebTransportConnect(replace(':scheme', 'http')), ':scheme');
    expectMalformed(validateWebTransportConnect(replace(':authority', '')), ':authority');
    expectMalformed(validateWebTransportConnect(replace(':path', 'push')), ':path');
    expectMalformed(validateWebTransportConnect(replace(':path', undefined)), ':path');
  });

  it('accepts other :protocol values only when configured', () => {
    const fields = replace(':protocol', 'webtransport-h3');
    expectMalformed(validateWebTransportConnect(fields), ':protocol');
    expect(validateWebTransportConnect(fields, { protocols: ['webtransport', 'webtransport-h3'] })).toMatchObject({ protocol: 'webtransport-h3' });
  });

  it('rejects field rule violations', () => {
    expectMalformed(validateWebTransportConnect([...VALID, { name: ':method', value: 'CONNECT' }]), 'after a regular field');
    expectMalformed(validateWebTransportConnect([{ name: ':method', value: 'CONNECT' }, ...VALID]), 'twice');
    expectMalformed(validateWebTransportConnect([{ name: ':status', value: '200' }, ...VALID]), 'not allowed');
    expectMalformed(validateWebTransportConnect([...VALID, { name: 'Origin', value: 'x' }]), 'lowercase');
    expectMalformed(validateWebTransportConnect([...VALID, { name: 'x-a', value: 'a\r\nb' }]), 'CR or LF');
    expectMalformed(validateWebTransportConnect([...VALID, { name: 'connection', value: 'close' }]), 'connection-specific');
    expectMalformed(validateWebTransportConnect([...VALID, { name: 'te', value: 'gzip' }]), 'te');
    expectMalformed(validateWebTransportConnect([...VALID, { name: 'origin', value: 'http://other' }]), 'origin appears more than once');
    expect(validateWebTransportConnect([...VALID, { name: 'te', value: 'trailers' }])).not.toBeInstanceOf(H3Error);
  });
});

describe('extended CONNECT response', () => {
  it('adds the draft-02 answer for draft-02 requests', () => {
    expect(webTransportResponseFields(200, { draft02: true })).toEqual([
      { name: ':status', value: '200' },
      { name: 'sec-webtransport-http3-draft', value: 'draft02' },
    ]);
    expect(webTransportResponseFields(200, { draft02: false })).toEqual([{ name: ':status', value: '200' }]);
    expect(webTransportResponseFields(404, { draft02: true })).toEqual([{ name: ':status', value: '404' }]);
  });

  it('encodes :status 200 and validates it on the client side', () => {
    const fields = decodeFieldSection(encodeFieldSection(webTransportResponseFields(200, { draft02: true })));
    expect(validateResponse(fields)).toEqual({ status: 200, headers: [{ name: 'sec-webtransport-http3-draft', value: 'draft02' }] });
  });

  it('rejects responses without a valid :status', () => {
    expectMalformed(validateResponse([]), ':status');
    expectMalformed(validateResponse([{ name: ':status', value: '20' }]), ':status');
    expectMalformed(validateResponse([{ name: ':status', value: '200' }, { name: ':status', value: '200' }]), 'twice');
    expectMalformed(validateResponse([{ name: ':path', value: '/' }]), 'not allowed');
  });
});
