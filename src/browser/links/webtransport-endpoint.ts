// Discovery of the gateway's WebTransport session: GET <gateway>/webtransport/cert-hashes
// returns { url, hashes: [{ algorithm: "sha-256", value: base64 }] }. The client fetches it
// before every attempt, so a certificate rotated since the last attempt is pinned too.
import { EndpointDiscoveryError, TransportSkippedError } from '../errors.js';
import type { LinkContext } from './link.js';

export const CERT_HASHES_PATH = '/webtransport/cert-hashes';

/** The shape `new WebTransport(url, { serverCertificateHashes })` takes. */
export interface PinnedHash {
  algorithm: 'sha-256';
  value: Uint8Array;
}

export interface WebTransportEndpoint {
  url: string;
  hashes: PinnedHash[];
}

/** SHA-256 output length; any other length cannot be a valid pin. */
const SHA256_BYTES = 32;

/** Decodes a standard or URL-safe base64 string; throws EndpointDiscoveryError on anything else. */
export function decodeBase64(text: string): Uint8Array {
  const normalised = text.replace(/-/g, '+').replace(/_/g, '/');
  let binary: string;
  try {
    binary = atob(normalised);
  } catch (error) {
    throw new EndpointDiscoveryError(`certificate hash ${JSON.stringify(text)} is not base64`, { cause: error });
  }
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

/** Converts pinned hashes given as bytes or base64 into the form WebTransport expects. */
export function toPinnedHashes(entries: readonly { algorithm?: string; value: Uint8Array | string }[]): PinnedHash[] {
  return entries.map((entry) => {
    if (entry.algorithm !== undefined && entry.algorithm !== 'sha-256') {
      throw new EndpointDiscoveryError(`certificate hash algorithm ${JSON.stringify(entry.algorithm)} is not supported; browsers pin sha-256 only`);
    }
    const value = typeof entry.value === 'string' ? decodeBase64(entry.value) : entry.value;
    if (value.length !== SHA256_BYTES) {
      throw new EndpointDiscoveryError(`certificate hash has ${value.length} bytes; a SHA-256 hash has ${SHA256_BYTES}`);
    }
    return { algorithm: 'sha-256', value };
  });
}

/** Validates the JSON document the gateway serves and converts its hashes. */
export function parseEndpointDocument(document: unknown): WebTransportEndpoint {
  if (typeof document !== 'object' || document === null) throw new EndpointDiscoveryError('certificate-hash document is not a JSON object');
  const { url, hashes } = document as { url?: unknown; hashes?: unknown };
  if (typeof url !== 'string' || !url.startsWith('https://')) {
    throw new EndpointDiscoveryError(`certificate-hash document has no https "url" (got ${JSON.stringify(url)})`);
  }
  if (!Array.isArray(hashes)) throw new EndpointDiscoveryError('certificate-hash document has no "hashes" array');
  const entries = hashes.map((entry: unknown) => {
    const { algorithm, value } = (entry ?? {}) as { algorithm?: unknown; value?: unknown };
    if (typeof value !== 'string') throw new EndpointDiscoveryError('certificate-hash entry has no base64 "value"');
    return { algorithm: typeof algorithm === 'string' ? algorithm : undefined, value };
  });
  return { url, hashes: toPinnedHashes(entries) };
}

/**
 * Returns the session URL and pins: the caller's settings where given, the gateway's document for
 * the rest. A 404 means the gateway runs no WebTransport listener, so the rung is skipped.
 */
export async function resolveWebTransportEndpoint(context: LinkContext): Promise<WebTransportEndpoint> {
  const settings = context.webTransport;
  if (settings.url !== undefined && settings.serverCertificateHashes !== undefined) {
    return { url: settings.url, hashes: toPinnedHashes(settings.serverCertificateHashes) };
  }

  const documentUrl = new URL(CERT_HASHES_PATH, context.gatewayHttpUrl).href;
  let response: Response;
  try {
    response = await context.fetch(documentUrl, { signal: context.signal });
  } catch (error) {
    throw new EndpointDiscoveryError(`fetching ${documentUrl} failed: ${(error as Error).message}`, { cause: error });
  }
  if (response.status === 404) {
    throw new TransportSkippedError('webtransport', 'not-offered', `the gateway at ${context.gatewayHttpUrl} runs no WebTransport listener (${documentUrl} returned 404)`);
  }
  if (!response.ok) throw new EndpointDiscoveryError(`fetching ${documentUrl} returned HTTP ${response.status}`);
  let document: unknown;
  try {
    document = await response.json();
  } catch (error) {
    throw new EndpointDiscoveryError(`${documentUrl} did not return JSON`, { cause: error });
  }

  const endpoint = parseEndpointDocument(document);
  return {
    url: settings.url ?? endpoint.url,
    hashes: settings.serverCertificateHashes ? toPinnedHashes(settings.serverCertificateHashes) : endpoint.hashes,
  };
}
