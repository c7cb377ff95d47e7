// The document a page reads before opening WebTransport: the session URL and the SHA-256 pins of
// the gateway's certificates, taken from the webtransport listener's clientSettings at request
// time, so a rotated certificate shows up without a restart.
import type { TransportAddress } from '../../transport/types.js';

export interface ListenerInfo {
  transport: string;
  address: TransportAddress;
  clientSettings?: Record<string, unknown>;
}

export interface EndpointDocument {
  transport: 'webtransport';
  url: string;
  hashes: { algorithm: 'sha-256'; value: string }[];
}

/** Session path used when the listener publishes none. */
const DEFAULT_SESSION_PATH = '/pushlab';
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

/**
 * Builds the document for the first webtransport listener, or returns undefined when there is
 * none. A listener on a wildcard address is named by the host the page used to reach the API.
 */
export function webTransportEndpoint(listeners: readonly ListenerInfo[], requestHost: string | undefined): EndpointDocument | undefined {
  const listener = listeners.find((candidate) => candidate.transport === 'webtransport');
  if (listener === undefined) return undefined;
  const settings = listener.clientSettings ?? {};
  const sessionPath = typeof settings.path === 'string' && settings.path.startsWith('/') ? settings.path : DEFAULT_SESSION_PATH;
  let host = listener.address.host;
  if (WILDCARD_HOSTS.has(host)) host = hostnameOf(requestHost) ?? '127.0.0.1';
  const authority = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return {
    transport: 'webtransport',
    url: `https://${authority}:${listener.address.port}${sessionPath}`,
    hashes: normaliseHashes(settings.certificateHashes),
  };
}

function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  try {
    return new URL(`http://${hostHeader}`).hostname;
  } catch {
    return undefined;
  }
}

/**
 * Accepts the forms a listener may publish: entries of { algorithm, value } or bare values, each
 * value as bytes, base64 or hex. Entries of another algorithm are left out, because browsers
 * pin sha-256 only.
 */
export function normaliseHashes(raw: unknown): EndpointDocument['hashes'] {
  if (!Array.isArray(raw)) return [];
  const hashes: EndpointDocument['hashes'] = [];
  for (const entry of raw as unknown[]) {
    const isObject = typeof entry === 'object' && entry !== null && !(entry instanceof Uint8Array);
    const algorithm = isObject ? (entry as { algorithm?: unknown }).algorithm : 'sha-256';
    const value = isObject ? (entry as { value?: unknown }).value : entry;
    if (algorithm !== undefined && algorithm !== 'sha-256') continue;
    const bytes = toBytes(value);
    if (bytes?.length === 32) hashes.push({ algorithm: 'sha-256', value: bytes.toString('base64') });
  }
  return hashes;
}

function toBytes(value: unknown): Buffer | undefined {
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (typeof value !== 'string') return undefined;
  if (/^[0-9a-f]{64}$/i.test(value)) return Buffer.from(value, 'hex');
  return Buffer.from(value, 'base64');
}
