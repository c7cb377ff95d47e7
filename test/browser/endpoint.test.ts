import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EndpointDiscoveryError } from '../../src/browser/errors.js';
import { decodeBase64, parseEndpointDocument, toPinnedHashes } from '../../src/browser/links/webtransport-endpoint.js';
import { memoryResumeStore, webStorageResumeStore, type StorageLike } from '../../src/browser/resume-store.js';
import { normaliseHashes, webTransportEndpoint } from '../../src/browser/server/webtransport-endpoint.js';

const HASH = createHash('sha256').update('certificate').digest();
const HASH_BASE64 = HASH.toString('base64');

/** Returns a Web Storage stand-in backed by a Map. With `failing`, every call throws, as a disabled storage does. */
function mapStorage(failing = false): StorageLike & { entries: Map<string, string> } {
  const entries = new Map<string, string>();
  const guard = (): void => {
    if (failing) throw new Error('storage disabled');
  };
  return {
    entries,
    getItem: (key) => (guard(), entries.get(key) ?? null),
    setItem: (key, value) => (guard(), void entries.set(key, value)),
    removeItem: (key) => (guard(), void entries.delete(key)),
  };
}

describe('server endpoint document', () => {
  it('names the listener address and path', () => {
    const document = webTransportEndpoint(
      [{ transport: 'tcp', address: { host: '127.0.0.1', port: 7000 } }, { transport: 'webtransport', address: { host: '127.0.0.1', port: 4433 }, clientSettings: { path: '/push', certificateHashes: [{ algorithm: 'sha-256', value: HASH_BASE64 }] } }],
      'localhost:8080',
    );
    expect(document?.url).toBe('https://127.0.0.1:4433/push');
    expect(document?.hashes).toEqual([{ algorithm: 'sha-256', value: HASH_BASE64 }]);
  });

  it('uses the request host for a wildcard listener', () => {
    const document = webTransportEndpoint([{ transport: 'webtransport', address: { host: '0.0.0.0', port: 4433 } }], 'gateway.test:8080');
    expect(document?.url).toBe('https://gateway.test:4433/pushlab');
  });

  it('brackets an IPv6 listener address', () => {
    const document = webTransportEndpoint([{ transport: 'webtransport', address: { host: '::1', port: 4433 } }], undefined);
    expect(document?.url).toBe('https://[::1]:4433/pushlab');
  });

  it('returns undefined without a webtransport listener', () => {
    expect(webTransportEndpoint([{ transport: 'tcp', address: { host: '127.0.0.1', port: 7000 } }], 'localhost')).toBeUndefined();
  });

  it('normalises bytes, hex and base64 hashes', () => {
    const hashes = normaliseHashes([new Uint8Array(HASH), HASH.toString('hex'), { value: HASH_BASE64 }, { algorithm: 'sha-1', value: HASH_BASE64 }, 'c2hvcnQ=', 42]);
    expect(hashes).toEqual([
      { algorithm: 'sha-256', value: HASH_BASE64 },
      { algorithm: 'sha-256', value: HASH_BASE64 },
      { algorithm: 'sha-256', value: HASH_BASE64 },
    ]);
  });
});

describe('client endpoint parsing', () => {
  it('decodes the pins into bytes', () => {
    const endpoint = parseEndpointDocument({ url: 'https://127.0.0.1:4433/pushlab', hashes: [{ algorithm: 'sha-256', value: HASH_BASE64 }] });
    expect(endpoint.url).toBe('https://127.0.0.1:4433/pushlab');
    expect(Buffer.from(endpoint.hashes[0]!.value).equals(HASH)).toBe(true);
  });

  it('accepts URL-safe base64', () => {
    expect(Buffer.from(decodeBase64(HASH.toString('base64url'))).equals(HASH)).toBe(true);
  });

  it.each([
    ['not an object', null],
    ['a plain http url', { url: 'http://127.0.0.1:4433/pushlab', hashes: [] }],
    ['no hashes array', { url: 'https://127.0.0.1:4433/pushlab' }],
    ['a hash without value', { url: 'https://127.0.0.1:4433/pushlab', hashes: [{ algorithm: 'sha-256' }] }],
    ['a short hash', { url: 'https://127.0.0.1:4433/pushlab', hashes: [{ value: 'c2hvcnQ=' }] }],
    ['another algorithm', { url: 'https://127.0.0.1:4433/pushlab', hashes: [{ algorithm: 'sha-1', value: HASH_BASE64 }] }],
    ['text that is not base64', { url: 'https://127.0.0.1:4433/pushlab', hashes: [{ value: '%%%' }] }],
  ])('rejects %s', (_name, document) => {
    expect(() => parseEndpointDocument(document)).toThrow(EndpointDiscoveryError);
  });

  it('keeps pinned bytes as given', () => {
    const pins = toPinnedHashes([{ algorithm: 'sha-256', value: new Uint8Array(HASH) }]);
    expect(pins).toHaveLength(1);
    expect(pins[0]!.algorithm).toBe('sha-256');
  });
});

describe('resume stores', () => {
  it('keeps a copy in memory', () => {
    const store = memoryResumeStore();
    const position = { sessionId: 's1', lastSeq: 4 };
    store.save(position);
    position.lastSeq = 9;
    expect(store.load()).toEqual({ sessionId: 's1', lastSeq: 4 });
    store.clear();
    expect(store.load()).toBeUndefined();
  });

  it('round-trips through web storage', () => {
    const storage = mapStorage();
    const store = webStorageResumeStore('key', storage)!;
    store.save({ sessionId: 's1', lastSeq: 12 });
    expect(webStorageResumeStore('key', storage)!.load()).toEqual({ sessionId: 's1', lastSeq: 12 });
    store.clear();
    expect(storage.entries.size).toBe(0);
  });

  it('ignores malformed stored text', () => {
    const storage = mapStorage();
    storage.entries.set('key', '{"sessionId":"s1","lastSeq":-1}');
    expect(webStorageResumeStore('key', storage)!.load()).toBeUndefined();
    storage.entries.set('key', 'not json');
    expect(webStorageResumeStore('key', storage)!.load()).toBeUndefined();
  });

  it('survives a storage that throws', () => {
    const store = webStorageResumeStore('key', mapStorage(true))!;
    expect(() => store.save({ sessionId: 's1', lastSeq: 1 })).not.toThrow();
    expect(store.load()).toBeUndefined();
    expect(() => store.clear()).not.toThrow();
  });

  it('reports no store without web storage', () => {
    expect(webStorageResumeStore('key')).toBeUndefined();
  });
});
