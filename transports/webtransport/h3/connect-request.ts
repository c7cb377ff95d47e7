// The extended CONNECT request that opens a WebTransport session (RFC 9220 §3,
// draft-ietf-webtrans-http3 "Creating a New Session") and its response: building the fields for a
// client, and validating decoded fields on the server.
//
// A request that breaks HTTP/3 field rules is malformed (RFC 9114 §4.1.2), a stream error of type
// H3_MESSAGE_ERROR. Validation returns that error instead of throwing, so the caller chooses
// between resetting the stream and responding with a 4xx status.
import { H3Error, H3ErrorCode } from './errors.js';
import type { HeaderField } from './qpack.js';

export interface WebTransportConnectRequest {
  authority: string;
  /** Path and query of the WebTransport URL. */
  path: string;
  protocol: string;
  /** The origin field browsers send; undefined when absent. */
  origin: string | undefined;
  /**
   * True when the client sent `sec-webtransport-http3-draft02: 1`, the marker of
   * draft-ietf-webtrans-http3-02 clients such as Chromium.
   */
  draft02: boolean;
  /** The regular (non-pseudo) fields, in order. */
  headers: HeaderField[];
}

export interface ConnectValidationOptions {
  /** Accepted :protocol values; default ['webtransport']. */
  protocols?: readonly string[];
}

export const DRAFT02_REQUEST_FIELD = 'sec-webtransport-http3-draft02';
export const DRAFT02_RESPONSE_FIELD = 'sec-webtransport-http3-draft';

const REQUEST_PSEUDO_FIELDS = new Set([':method', ':scheme', ':authority', ':path', ':protocol']);

/** Connection-specific fields that HTTP/3 forbids (RFC 9114 §4.2). */
const CONNECTION_SPECIFIC_FIELDS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** A lowercase token (RFC 9110 §5.1 field-name = token; RFC 9114 §4.2 forbids uppercase). */
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/** Values may not contain NUL, CR or LF (RFC 9114 §4.2, RFC 9110 §5.5). */
const INVALID_VALUE = /[\0\r\n]/;

function malformed(message: string): H3Error {
  return new H3Error(H3ErrorCode.H3_MESSAGE_ERROR, message);
}

/**
 * Splits fields into pseudo-fields and regular fields, checking the rules shared by requests and
 * responses (RFC 9114 §4.2, §4.3): valid lowercase names, no CR/LF/NUL in values, pseudo-fields
 * first and each at most once, no connection-specific fields, `te` only as "trailers".
 */
function splitFields(fields: readonly HeaderField[], allowedPseudo: ReadonlySet<string>): { pseudo: Map<string, string>; headers: HeaderField[] } | H3Error {
  const pseudo = new Map<string, string>();
  const headers: HeaderField[] = [];
  for (const { name, value } of fields) {
    if (INVALID_VALUE.test(value)) return malformed(`value of ${name} contains NUL, CR or LF`);
    if (name.startsWith(':')) {
      if (headers.length > 0) return malformed(`pseudo-header ${name} after a regular field`);
      if (!allowedPseudo.has(name)) return malformed(`pseudo-header ${name} is not allowed here`);
      if (pseudo.has(name)) return malformed(`pseudo-header ${name} appears twice`);
      pseudo.set(name, value);
      continue;
    }
    if (!FIELD_NAME.test(name)) return malformed(`field name ${JSON.stringify(name)} is not a lowercase token`);
    if (CONNECTION_SPECIFIC_FIELDS.has(name)) return malformed(`connection-specific field ${name} is not allowed in HTTP/3`);
    if (name === 'te' && value.toLowerCase() !== 'trailers') return malformed('te may only be "trailers"');
    headers.push({ name, value });
  }
  return { pseudo, headers };
}

/**
 * Validates a decoded request as a WebTransport extended CONNECT: :method CONNECT, an accepted
 * :protocol, :scheme https, a non-empty :authority and a :path starting with "/". Returns the
 * request, or an H3Error with H3_MESSAGE_ERROR saying what is wrong.
 */
export function validateWebTransportConnect(fields: readonly HeaderField[], options: ConnectValidationOptions = {}): WebTransportConnectRequest | H3Error {
  const split = splitFields(fields, REQUEST_PSEUDO_FIELDS);
  if (split instanceof H3Error) return split;
  const { pseudo, headers } = split;

  const method = pseudo.get(':method');
  if (method !== 'CONNECT') return malformed(`:method must be CONNECT, got ${method ?? 'none'}`);
  const protocol = pseudo.get(':protocol');
  const protocols = options.protocols ?? ['webtransport'];
  if (protocol === undefined || !protocols.includes(protocol)) {
    return malformed(`:protocol must be one of ${protocols.join(', ')}, got ${protocol ?? 'none'}`);
  }
  // RFC 9220 §3: an extended CONNECT carries :scheme and :path, unlike a plain CONNECT.
  const scheme = pseudo.get(':scheme');
  if (scheme !== 'https') return malformed(`:scheme must be https, got ${scheme ?? 'none'}`);
  const authority = pseudo.get(':authority');
  if (!authority) return malformed(':authority is missing or empty');
  const path = pseudo.get(':path');
  if (!path || !path.startsWith('/')) return malformed(`:path must start with "/", got ${path === undefined ? 'none' : JSON.stringify(path)}`);

  const origins = headers.filter((field) => field.name === 'origin');
  if (origins.length > 1) return malformed('origin appears more than once');
  const draft02 = headers.some((field) => field.name === DRAFT02_REQUEST_FIELD && field.value === '1');
  return { authority, path, protocol, origin: origins[0]?.value, draft02, headers };
}

export interface ConnectRequestInit {
  authority: string;
  path: string;
  origin?: string;
  /** Add Chromium's draft-02 marker field; default true so draft-02 servers accept the request. */
  draft02?: boolean;
  protocol?: string;
}

/** Builds the fields of a WebTransport extended CONNECT, pseudo-fields first (RFC 9114 §4.3). */
export function webTransportConnectFields(init: ConnectRequestInit): HeaderField[] {
  if (!init.path.startsWith('/')) throw new RangeError(`path must start with "/", got ${JSON.stringify(init.path)}`);
  const fields: HeaderField[] = [
    { name: ':method', value: 'CONNECT' },
    { name: ':protocol', value: init.protocol ?? 'webtransport' },
    { name: ':scheme', value: 'https' },
    { name: ':authority', value: init.authority },
    { name: ':path', value: init.path },
  ];
  if (init.origin !== undefined) fields.push({ name: 'origin', value: init.origin });
  if (init.draft02 ?? true) fields.push({ name: DRAFT02_REQUEST_FIELD, value: '1' });
  return fields;
}

/**
 * Builds response fields. On a 2xx response to a request with the draft-02 marker it adds
 * `sec-webtransport-http3-draft: draft02`, the field draft-02 servers send.
 */
export function webTransportResponseFields(status: number, request?: Pick<WebTransportConnectRequest, 'draft02'>): HeaderField[] {
  if (!Number.isInteger(status) || status < 100 || status > 999) throw new RangeError(`status must be a three-digit integer, got ${status}`);
  const fields: HeaderField[] = [{ name: ':status', value: String(status) }];
  // Chromium 156 accepted a draft-02 session with and without this field (checked by hand with
  // headless Chromium); draft-02 servers send it, so it is kept.
  if (request?.draft02 && status >= 200 && status < 300) fields.push({ name: DRAFT02_RESPONSE_FIELD, value: 'draft02' });
  return fields;
}

export interface ConnectResponse {
  status: number;
  headers: HeaderField[];
}

/** Validates a decoded response: exactly one three-digit :status first (RFC 9114 §4.3.2). */
export function validateResponse(fields: readonly HeaderField[]): ConnectResponse | H3Error {
  const split = splitFields(fields, new Set([':status']));
  if (split instanceof H3Error) return split;
  const status = split.pseudo.get(':status');
  if (status === undefined || !/^[1-9][0-9]{2}$/.test(status)) return malformed(`:status must be three digits, got ${status ?? 'none'}`);
  return { status: Number(status), headers: split.headers };
}
