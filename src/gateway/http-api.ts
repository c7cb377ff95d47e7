// The gateway's HTTP API on node:http: publish a message, read health, scrape Prometheus metrics.
//
//   POST /v1/publish  JSON PublishBody → 200 PublishResult
//   GET  /healthz     HealthReport; 200 while ok, 503 while draining so load balancers stop routing
//   GET  /metrics     prom-client text exposition
//
// Callers may add routes of their own (HttpApiOptions.routes), such as the browser demo page.
// Every error is sent as JSON { error: { code, message } } and logged, and no request input can
// throw out of the handler.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, MessageTooLargeError, PushlabError, toError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { TransportAddress } from '../transport/types.js';
import type { HealthReport, PriorityName, PublishRequest, PublishTarget } from './types.js';

/** Default limit on a request body; a push payload is far smaller, so this leaves room for JSON and base64. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** How long close() lets requests in progress finish before it drops their connections. */
const CLOSE_GRACE_MS = 5_000;

export interface HttpApiOptions {
  /** Default 127.0.0.1, because the API has no authentication of its own and must stay on loopback unless configured otherwise. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  target: PublishTarget;
  health: () => HealthReport;
  metrics: GatewayMetrics;
  logger: Logger;
  /** Largest accepted request body in bytes; default 1 MiB. */
  maxBodyBytes?: number;
  /** Routes served next to the built-in ones; a path may appear only once. */
  routes?: readonly HttpRoute[];
}

/** A route added by the caller. Its handler sends the whole response; anything it throws becomes a logged 500. */
export interface HttpRoute {
  method: 'GET' | 'POST';
  path: string;
  handle(request: http.IncomingMessage, response: http.ServerResponse): void | Promise<void>;
}

export interface HttpApi {
  readonly address: TransportAddress;
  /** Stops accepting, lets requests in progress finish for up to 5 s, then drops what remains. */
  close(): Promise<void>;
}

const BUILTIN_ROUTES: Record<string, string> = {
  '/v1/publish': 'POST',
  '/healthz': 'GET',
  '/metrics': 'GET',
};

function routeTable(extra: readonly HttpRoute[]): Map<string, { method: string; route?: HttpRoute }> {
  const table = new Map<string, { method: string; route?: HttpRoute }>(Object.entries(BUILTIN_ROUTES).map(([path, method]) => [path, { method }]));
  for (const route of extra) {
    if (table.has(route.path)) throw new ConfigError(`HTTP route ${route.path} is defined twice`);
    table.set(route.path, { method: route.method, route });
  }
  return table;
}

export async function startHttpApi(options: HttpApiOptions): Promise<HttpApi> {
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const logger = options.logger.child({ component: 'http-api' });
  const context: RequestContext = { ...options, maxBodyBytes, logger, routeTable: routeTable(options.routes ?? []) };

  const server = http.createServer((request, response) => {
    handleRequest(context, request, response).catch((error: unknown) => {
      // handleRequest sends its own error responses, so reaching this means writing a response failed.
      logger.error({ err: toError(error), method: request.method, url: request.url }, 'HTTP request handler failed');
      if (!response.headersSent) sendError(response, 500, 'internal', 'internal error');
      else response.destroy();
    });
  });
  server.on('clientError', (error, socket) => {
    logger.warn({ err: error }, 'malformed HTTP request');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => logger.error({ err: error }, 'HTTP server error'));

  const info = server.address() as AddressInfo;
  const address: TransportAddress = { host: info.address, port: info.port };
  logger.info({ host: address.host, port: address.port }, 'HTTP API listening');

  let closing: Promise<void> | undefined;
  return {
    address,
    close() {
      closing ??= closeServer(server, logger);
      return closing;
    },
  };
}

interface RequestContext extends HttpApiOptions {
  maxBodyBytes: number;
  logger: Logger;
  routeTable: Map<string, { method: string; route?: HttpRoute }>;
}

async function handleRequest(context: RequestContext, request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  // A client that hangs up mid-body makes the request emit 'error', which would crash the process
  // without a listener. readBody turns it into a 400; this listener covers the other routes.
  request.on('error', (error) => context.logger.debug({ err: error }, 'HTTP request stream error'));

  const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
  const entry = context.routeTable.get(path);
  if (entry === undefined) {
    logRejection(context.logger, request, 404, 'no such path');
    request.resume();
    const served = [...context.routeTable].map(([routePath, { method: routeMethod }]) => `${routeMethod} ${routePath}`).join(', ');
    sendError(response, 404, 'not_found', `no such path ${JSON.stringify(path)}; the API serves ${served}`);
    return;
  }
  const method = entry.method;
  if (request.method !== method) {
    logRejection(context.logger, request, 405, `${path} accepts ${method} only`);
    request.resume();
    response.setHeader('Allow', method);
    sendError(response, 405, 'method_not_allowed', `${path} accepts ${method} only, got ${request.method ?? 'no method'}`);
    return;
  }

  if (entry.route !== undefined) {
    await entry.route.handle(request, response);
    return;
  }
  if (path === '/healthz') {
    const report = context.health();
    sendJson(response, report.status === 'ok' ? 200 : 503, report);
    return;
  }
  if (path === '/metrics') {
    const registry = context.metrics.registry;
    const text = await registry.metrics();
    response.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': Buffer.byteLength(text) });
    response.end(text);
    return;
  }
  await handlePublish(context, request, response);
}

async function handlePublish(context: RequestContext, request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  let publishRequest: PublishRequest;
  try {
    const body = await readBody(request, context.maxBodyBytes);
    publishRequest = parsePublishBody(body);
  } catch (error) {
    if (!(error instanceof RequestError)) throw error;
    logRejection(context.logger, request, error.status, error.message);
    if (error.status === 413) {
      // The rest of the body is never read, so the connection cannot carry another request.
      response.setHeader('Connection', 'close');
      request.resume();
    }
    sendError(response, error.status, error.code, error.message);
    return;
  }

  try {
    const result = await context.target.publish(publishRequest);
    sendJson(response, 200, result);
  } catch (error) {
    const { status, code, message } = describePublishError(error);
    if (status >= 500) {
      context.logger.error({ err: toError(error), userId: publishRequest.userId, deviceId: publishRequest.deviceId }, 'publish failed');
    } else {
      context.logger.warn({ err: toError(error), userId: publishRequest.userId, deviceId: publishRequest.deviceId }, 'publish rejected');
    }
    sendError(response, status, code, message);
  }
}

/** Maps errors raised by the publish target to HTTP statuses; unknown errors stay opaque to the client. */
function describePublishError(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof MessageTooLargeError) return { status: 413, code: 'message_too_large', message: error.message };
  if (error instanceof PushlabError && error.code === 'PUBLISH_REJECTED') {
    return { status: 422, code: 'publish_rejected', message: error.message };
  }
  return { status: 500, code: 'internal', message: 'publish failed inside the gateway; see the gateway log' };
}

/** Reads the whole body, rejecting with 413 as soon as the declared or received size passes the limit. */
export function readBody(request: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.reject(bodyTooLarge(declared, maxBytes, 'declared'));
  }

  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const finish = (error: Error | undefined, body?: Buffer): void => {
      if (settled) return;
      settled = true;
      request.off('data', onData);
      if (error) reject(error);
      else resolve(body ?? Buffer.alloc(0));
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > maxBytes) {
        finish(bodyTooLarge(received, maxBytes, 'received'));
        return;
      }
      chunks.push(chunk);
    };
    request.on('data', onData);
    request.once('end', () => finish(undefined, Buffer.concat(chunks, received)));
    request.once('error', (error) => finish(new RequestError(400, 'body_read_failed', `reading the request body failed: ${error.message}`)));
    // 'close' before 'end' means the client went away mid-body; after 'end' finish() is a no-op.
    request.once('close', () => finish(new RequestError(400, 'body_read_failed', 'the client closed the connection before the body ended')));
  });
}

/** An HTTP request the API rejects; `status` is a 4xx code and `code` a stable machine-readable name. */
export class RequestError extends Error {
  override readonly name = 'RequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** JSON body of POST /v1/publish. */
export interface PublishBody {
  userId: string;
  deviceId?: string;
  /** Text payload, sent as its UTF-8 bytes. Give this or payloadBase64, not both. */
  payload?: string;
  /** Binary payload in standard base64 (RFC 4648, section 4), padding optional. */
  payloadBase64?: string;
  priority?: PriorityName;
  messageId?: string;
}

/** Maximum length of userId, deviceId and messageId, in UTF-16 code units. */
export const MAX_ID_LENGTH = 256;

const PUBLISH_FIELDS = new Set(['userId', 'deviceId', 'payload', 'payloadBase64', 'priority', 'messageId']);
const PRIORITIES: readonly PriorityName[] = ['normal', 'high'];
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Validates a POST /v1/publish body and converts it to a PublishRequest. Throws RequestError(400)
 * naming the first bad field. Unknown fields are rejected too, so a misspelt "deviceID" cannot
 * silently turn a device push into a push to every device of the user.
 */
export function parsePublishBody(body: Uint8Array): PublishRequest {
  if (body.length === 0) throw invalid('invalid_json', 'request body is empty; expected a JSON object');
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw invalid('invalid_json', 'request body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid('invalid_json', `request body is not valid JSON: ${toError(error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('invalid_request', 'request body must be a JSON object');
  }

  const fields = value as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !PUBLISH_FIELDS.has(key));
  if (unknown.length > 0) {
    throw invalid('invalid_request', `unknown field(s) ${unknown.map((key) => JSON.stringify(key)).join(', ')}; accepted fields: ${[...PUBLISH_FIELDS].join(', ')}`);
  }

  const request: PublishRequest = { userId: readId(fields, 'userId', true) as string, payload: readPayload(fields) };
  const deviceId = readId(fields, 'deviceId', false);
  if (deviceId !== undefined) request.deviceId = deviceId;
  const messageId = readId(fields, 'messageId', false);
  if (messageId !== undefined) request.messageId = messageId;
  if (fields.priority !== undefined) {
    if (!PRIORITIES.includes(fields.priority as PriorityName)) {
      throw invalid('invalid_request', `field "priority" must be "normal" or "high", got ${describe(fields.priority)}`);
    }
    request.priority = fields.priority as PriorityName;
  }
  return request;
}

function readId(fields: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const value = fields[name];
  if (value === undefined) {
    if (required) throw invalid('invalid_request', `field "${name}" is missing; expected a non-empty string`);
    return undefined;
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw invalid('invalid_request', `field "${name}" must be a non-empty string of at most ${MAX_ID_LENGTH} characters, got ${describe(value)}`);
  }
  return value;
}

function readPayload(fields: Record<string, unknown>): Uint8Array {
  const { payload, payloadBase64 } = fields;
  if (payload !== undefined && payloadBase64 !== undefined) {
    throw invalid('invalid_request', 'fields "payload" and "payloadBase64" are both set; give exactly one');
  }
  if (payload !== undefined) {
    if (typeof payload !== 'string') throw invalid('invalid_request', `field "payload" must be a string, got ${describe(payload)}`);
    return new Uint8Array(Buffer.from(payload, 'utf8'));
  }
  if (payloadBase64 !== undefined) {
    if (typeof payloadBase64 !== 'string' || !isBase64(payloadBase64)) {
      throw invalid('invalid_request', `field "payloadBase64" must be a standard base64 string, got ${describe(payloadBase64)}`);
    }
    return new Uint8Array(Buffer.from(payloadBase64, 'base64'));
  }
  throw invalid('invalid_request', 'field "payload" (UTF-8 text) or "payloadBase64" is missing');
}

/** Buffer.from(…, 'base64') skips characters outside the alphabet, so check the text first. */
function isBase64(text: string): boolean {
  const unpadded = text.replace(/={1,2}$/, '');
  if (!/^[A-Za-z0-9+/]*$/.test(unpadded) || unpadded.length % 4 === 1) return false;
  return unpadded.length === text.length || text.length % 4 === 0;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

function invalid(code: string, message: string): RequestError {
  return new RequestError(400, code, message);
}

function bodyTooLarge(size: number, maxBytes: number, basis: 'declared' | 'received'): RequestError {
  const sizeText = basis === 'declared' ? `declares ${size} bytes` : `passed ${maxBytes} bytes`;
  return new RequestError(413, 'body_too_large', `request body ${sizeText}; the limit is ${maxBytes} bytes`);
}

export function logRejection(logger: Logger, request: http.IncomingMessage, status: number, reason: string): void {
  logger.warn({ method: request.method, url: request.url, status, remoteAddress: request.socket.remoteAddress, reason }, 'HTTP request rejected');
}

export function sendJson(response: http.ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

export function sendError(response: http.ServerResponse, status: number, code: string, message: string): void {
  sendJson(response, status, { error: { code, message } });
}

async function closeServer(server: http.Server, logger: Logger): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const grace = setTimeout(() => {
    logger.warn('HTTP requests still in progress after the close grace period; dropping their connections');
    server.closeAllConnections();
  }, CLOSE_GRACE_MS);
  grace.unref();
  await closed;
  clearTimeout(grace);
  logger.info('HTTP API closed');
}
