import http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import client from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageTooLargeError, PushlabError } from '../../src/errors.js';
import { MAX_ID_LENGTH, startHttpApi, type HttpApi, type HttpApiOptions } from '../../src/gateway/http-api.js';
import type { HealthReport, PublishRequest, PublishResult, PublishTarget } from '../../src/gateway/types.js';
import { GatewayMetrics } from '../../src/metrics/gateway-metrics.js';

/** A publish target that records requests and returns one delivery per request, or throws `failure` when set. */
class RecordingTarget implements PublishTarget {
  readonly requests: PublishRequest[] = [];
  failure: Error | null = null;

  async publish(request: PublishRequest): Promise<PublishResult> {
    if (this.failure) throw this.failure;
    this.requests.push(request);
    return {
      messageId: request.messageId ?? `generated-${this.requests.length}`,
      deliveries: [{ deviceId: request.deviceId ?? 'phone', seq: this.requests.length, status: 'sent' }],
    };
  }
}

interface LogLine {
  level: number;
  msg: string;
  status?: number;
  component?: string;
}

interface Harness {
  api: HttpApi;
  target: RecordingTarget;
  logs: LogLine[];
  health: HealthReport;
  metrics: GatewayMetrics;
  url(path: string): string;
}

let running: HttpApi | null = null;
afterEach(async () => {
  await running?.close();
  running = null;
});

async function startHarness(overrides: Partial<HttpApiOptions> = {}): Promise<Harness> {
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as LogLine);
      callback();
    },
  });
  const target = new RecordingTarget();
  const health: HealthReport = { status: 'ok', sessions: 3, listeners: [{ transport: 'tcp', host: '127.0.0.1', port: 7000 }], uptimeSeconds: 12 };
  const metrics = new GatewayMetrics(new client.Registry());
  const api = await startHttpApi({
    port: 0,
    target,
    health: () => health,
    metrics,
    logger: pino({ level: 'debug' }, sink),
    maxBodyBytes: 1024,
    ...overrides,
  });
  running = api;
  return { api, target, logs, health, metrics, url: (path) => `http://127.0.0.1:${api.address.port}${path}` };
}

async function postJson(url: string, body: unknown): Promise<{ status: number; json: any; headers: Headers }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: response.status, json: await response.json(), headers: response.headers };
}

/** Sends a body in chunks without a Content-Length, so only the running count can trip the limit. */
function postChunked(port: number, chunks: Buffer[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/publish', headers: { 'transfer-encoding': 'chunked' } }, (response) => {
      const parts: Buffer[] = [];
      response.on('data', (part: Buffer) => parts.push(part));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
    });
    // The server may close once it has sent its response, so a reset while the body is still being written is expected.
    request.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' || error.code === 'EPIPE' ? undefined : reject(error)));
    for (const chunk of chunks) request.write(chunk);
    request.end();
  });
}

describe('HTTP API publish', () => {
  it('publishes a text payload', async () => {
    const harness = await startHarness();

    const { status, json, headers } = await postJson(harness.url('/v1/publish'), { userId: 'alice', deviceId: 'phone', payload: 'héllo', priority: 'high', messageId: 'm-1' });

    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(json).toEqual({ messageId: 'm-1', deliveries: [{ deviceId: 'phone', seq: 1, status: 'sent' }] });
    expect(harness.target.requests).toHaveLength(1);
    const request = harness.target.requests[0]!;
    expect(request).toEqual({ userId: 'alice', deviceId: 'phone', payload: new Uint8Array(Buffer.from('héllo', 'utf8')), priority: 'high', messageId: 'm-1' });
  });

  it('publishes a base64 payload to every device', async () => {
    const harness = await startHarness();
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);

    const { status, json } = await postJson(harness.url('/v1/publish'), { userId: 'alice', payloadBase64: Buffer.from(bytes).toString('base64') });

    expect(status).toBe(200);
    expect(json.messageId).toBe('generated-1');
    const request = harness.target.requests[0]!;
    expect(request.payload).toEqual(bytes);
    expect(request.deviceId).toBeUndefined();
    expect(request.priority).toBeUndefined();
  });

  it('accepts unpadded base64 and an empty payload', async () => {
    const harness = await startHarness();
    expect((await postJson(harness.url('/v1/publish'), { userId: 'alice', payloadBase64: 'AAE' })).status).toBe(200);
    expect((await postJson(harness.url('/v1/publish'), { userId: 'alice', payload: '' })).status).toBe(200);
    expect(harness.target.requests.map((request) => [...request.payload])).toEqual([[0, 1], []]);
  });

  it('rejects invalid bodies with 400 naming the field', async () => {
    const harness = await startHarness();
    const cases: [unknown, string, RegExp][] = [
      ['{"userId": ', 'invalid_json', /not valid JSON/],
      ['', 'invalid_json', /request body is empty/],
      [[1, 2], 'invalid_request', /must be a JSON object/],
      [{ payload: 'x' }, 'invalid_request', /field "userId" is missing/],
      [{ userId: 7, payload: 'x' }, 'invalid_request', /field "userId" must be a non-empty string .*got number 7/],
      [{ userId: '', payload: 'x' }, 'invalid_request', /field "userId" must be a non-empty string/],
      [{ userId: 'u'.repeat(MAX_ID_LENGTH + 1), payload: 'x' }, 'invalid_request', /field "userId" must be .*at most 256 characters/],
      [{ userId: 'alice', deviceId: '', payload: 'x' }, 'invalid_request', /field "deviceId"/],
      [{ userId: 'alice', messageId: 5, payload: 'x' }, 'invalid_request', /field "messageId"/],
      [{ userId: 'alice' }, 'invalid_request', /field "payload" \(UTF-8 text\) or "payloadBase64" is missing/],
      [{ userId: 'alice', payload: 'x', payloadBase64: 'eA==' }, 'invalid_request', /"payload" and "payloadBase64" are both set/],
      [{ userId: 'alice', payload: { text: 'x' } }, 'invalid_request', /field "payload" must be a string, got an object/],
      [{ userId: 'alice', payloadBase64: 'not base64!' }, 'invalid_request', /field "payloadBase64" must be a standard base64 string/],
      [{ userId: 'alice', payloadBase64: 'AAAAA' }, 'invalid_request', /field "payloadBase64"/],
      [{ userId: 'alice', payload: 'x', priority: 'urgent' }, 'invalid_request', /field "priority" must be "normal" or "high", got "urgent"/],
      [{ userId: 'alice', payload: 'x', deviceID: 'phone' }, 'invalid_request', /unknown field\(s\) "deviceID"/],
    ];
    for (const [body, code, message] of cases) {
      const { status, json } = await postJson(harness.url('/v1/publish'), body);
      const label = JSON.stringify(body).slice(0, 60);
      expect(status, label).toBe(400);
      expect(json.error.code, label).toBe(code);
      expect(json.error.message, label).toMatch(message);
    }
    expect(harness.target.requests).toHaveLength(0);
  });

  it('rejects a body that is not UTF-8', async () => {
    const harness = await startHarness();
    const body = Buffer.concat([Buffer.from('{"userId":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","payload":"x"}')]);
    const response = await fetch(harness.url('/v1/publish'), { method: 'POST', body });
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error.message).toMatch(/not valid UTF-8/);
  });

  it('logs each rejected request', async () => {
    const harness = await startHarness();
    await postJson(harness.url('/v1/publish'), { userId: 'alice' });
    const rejection = harness.logs.find((line) => line.msg === 'HTTP request rejected');
    expect(rejection?.status).toBe(400);
    expect(rejection?.component).toBe('http-api');
  });

  it('rejects a declared oversized body with 413', async () => {
    const harness = await startHarness({ maxBodyBytes: 64 });
    const body = JSON.stringify({ userId: 'alice', payload: 'x'.repeat(100) });

    const { status, json, headers } = await postJson(harness.url('/v1/publish'), body);

    expect(status).toBe(413);
    expect(json.error.code).toBe('body_too_large');
    expect(json.error.message).toMatch(/limit is 64 bytes/);
    expect(headers.get('connection')).toBe('close');
    expect(harness.target.requests).toHaveLength(0);
  });

  it('rejects a chunked oversized body with 413', async () => {
    const harness = await startHarness({ maxBodyBytes: 1024 });
    const chunks = Array.from({ length: 8 }, () => Buffer.alloc(512, 0x20));

    const { status, body } = await postChunked(harness.api.address.port, chunks);

    expect(status).toBe(413);
    expect(JSON.parse(body).error.message).toMatch(/passed 1024 bytes/);
    expect(harness.target.requests).toHaveLength(0);
  });

  it('accepts a body at the limit', async () => {
    const base = JSON.stringify({ userId: 'alice', payload: '' });
    const harness = await startHarness({ maxBodyBytes: base.length + 10 });
    const { status } = await postJson(harness.url('/v1/publish'), JSON.stringify({ userId: 'alice', payload: 'x'.repeat(10) }));
    expect(status).toBe(200);
  });

  it('maps target errors to statuses', async () => {
    const harness = await startHarness();
    const cases: [Error, number, string][] = [
      [new MessageTooLargeError(70_000, 65_000), 413, 'message_too_large'],
      [new PushlabError('PUBLISH_REJECTED', 'user alice has no devices'), 422, 'publish_rejected'],
      [new Error('database on fire'), 500, 'internal'],
    ];
    for (const [failure, status, code] of cases) {
      harness.target.failure = failure;
      const response = await postJson(harness.url('/v1/publish'), { userId: 'alice', payload: 'x' });
      expect(response.status, failure.message).toBe(status);
      expect(response.json.error.code, failure.message).toBe(code);
    }
    const internal = await postJson(harness.url('/v1/publish'), { userId: 'alice', payload: 'x' });
    expect(internal.json.error.message).not.toContain('database on fire');
    expect(harness.logs.some((line) => line.level === 50 && line.msg === 'publish failed')).toBe(true);
  });
});

describe('HTTP API routing', () => {
  it('returns 404 for an unknown path', async () => {
    const harness = await startHarness();
    const response = await fetch(harness.url('/v2/publish'));
    expect(response.status).toBe(404);
    expect(((await response.json()) as any).error.code).toBe('not_found');
  });

  it('returns 405 with Allow for a wrong method', async () => {
    const harness = await startHarness();
    const get = await fetch(harness.url('/v1/publish'));
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(((await get.json()) as any).error.message).toMatch(/accepts POST only, got GET/);

    const post = await fetch(harness.url('/healthz'), { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    await post.arrayBuffer();
  });

  it('serves the health report', async () => {
    const harness = await startHarness();
    const ok = await fetch(harness.url('/healthz?verbose=1'));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual(harness.health);

    harness.health.status = 'draining';
    const draining = await fetch(harness.url('/healthz'));
    expect(draining.status).toBe(503);
    expect(((await draining.json()) as HealthReport).status).toBe('draining');
  });

  it('lists each metric family once', async () => {
    const registry = new client.Registry();
    const metrics = new GatewayMetrics(registry);
    const second = new GatewayMetrics(registry);
    second.connectionsOpened.inc({ transport: 'tcp' });
    const harness = await startHarness({ metrics });

    const response = await fetch(harness.url('/metrics'));
    const text = await response.text();

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(registry.contentType);
    const families = text.split('\n').filter((line) => line.startsWith('# TYPE ')).map((line) => line.split(' ')[2]);
    expect(families).toContain('pushlab_connections_opened_total');
    expect(new Set(families).size).toBe(families.length);
    expect(text).toContain('pushlab_connections_opened_total{transport="tcp"} 1');
  });

  it('returns 400 for a malformed request line', async () => {
    const harness = await startHarness();
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(harness.api.address.port, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      const parts: Buffer[] = [];
      socket.on('data', (part: Buffer) => parts.push(part));
      socket.on('end', () => resolve(Buffer.concat(parts).toString('latin1')));
      socket.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect((await fetch(harness.url('/healthz'))).status).toBe(200);
  });

  it('closes with an idle keep-alive connection open', async () => {
    const harness = await startHarness();
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: harness.api.address.port, path: '/healthz', agent }, (response) => {
        response.resume();
        response.on('end', resolve);
      }).on('error', reject);
    });

    await harness.api.close();
    running = null;
    agent.destroy();

    await expect(fetch(harness.url('/healthz'))).rejects.toThrow();
  });
});
