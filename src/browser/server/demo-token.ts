// POST /demo/token: signs a short-lived device token for a demo user, so the demo page can connect
// without a backend. Only `pushlab gateway --demo` enables it. Any client that reaches the HTTP
// API can then connect as any user named demo-*, so the route must never run in production. The
// limits below (demo-* users only, 10-minute tokens, a global rate limit, JSON-only same-origin
// requests) narrow the damage of a mistake but do not make the route safe.
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import type { IssueTokenRequest } from '../../gateway/auth.js';
import { logRejection, readBody, RequestError, sendError, sendJson, type HttpRoute } from '../../gateway/http-api.js';
import type { Logger } from '../../logger.js';

export interface DemoTokenOptions {
  issuer: { issue(request: IssueTokenRequest): string };
  logger: Logger;
  /** Token lifetime in ms; default 10 minutes. */
  ttlMs?: number;
  /** Tokens per minute across all callers; default 60. */
  perMinute?: number;
  now?: () => number;
}

export const DEMO_TOKEN_PATH = '/demo/token';
export const DEMO_USER_PREFIX = 'demo-';
const DEFAULT_TTL_MS = 10 * 60_000;
const MAX_BODY_BYTES = 1024;
const ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export function demoTokenRoute(options: DemoTokenOptions): HttpRoute {
  const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
  const perMinute = options.perMinute ?? 60;
  const now = options.now ?? Date.now;
  const logger = options.logger.child({ component: 'demo-token' });
  let windowStart = 0;
  let issuedInWindow = 0;

  return {
    method: 'POST',
    path: DEMO_TOKEN_PATH,
    async handle(request, response) {
      try {
        checkSameOrigin(request);
        const { userId, deviceId } = parseRequest(await readBody(request, MAX_BODY_BYTES));
        const time = now();
        if (time - windowStart >= 60_000) {
          windowStart = time;
          issuedInWindow = 0;
        }
        if (issuedInWindow >= perMinute) throw new RequestError(429, 'rate_limited', `demo tokens are limited to ${perMinute} per minute; retry in a minute`);
        issuedInWindow += 1;
        const token = options.issuer.issue({ userId, deviceId, ttlMs });
        logger.info({ userId, deviceId, ttlMs }, 'issued demo token');
        sendJson(response, 200, { token, userId, deviceId, expiresAt: new Date(time + ttlMs).toISOString() });
      } catch (error) {
        if (!(error instanceof RequestError)) throw error;
        logRejection(logger, request, error.status, error.message);
        sendError(response, error.status, error.code, error.message);
      }
    },
  };
}

/**
 * Requires a JSON content type (which a cross-site form cannot send without a CORS preflight that
 * this route never grants) and, when the browser sends an Origin, the API's own host.
 */
function checkSameOrigin(request: http.IncomingMessage): void {
  const contentType = request.headers['content-type'] ?? '';
  if (!contentType.toLowerCase().startsWith('application/json')) {
    request.resume();
    throw new RequestError(415, 'unsupported_media_type', `${DEMO_TOKEN_PATH} accepts application/json only, got ${JSON.stringify(contentType)}`);
  }
  const origin = request.headers.origin;
  if (origin === undefined) return;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    originHost = '';
  }
  if (originHost !== request.headers.host) {
    request.resume();
    throw new RequestError(403, 'cross_origin', `${DEMO_TOKEN_PATH} serves pages of its own origin only, not ${origin}`);
  }
}

function parseRequest(body: Buffer): { userId: string; deviceId: string } {
  let fields: Record<string, unknown> = {};
  if (body.length > 0) {
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      throw new RequestError(400, 'invalid_json', 'request body is not valid JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RequestError(400, 'invalid_request', 'request body must be a JSON object');
    fields = value as Record<string, unknown>;
  }
  const userId = fields.userId ?? `${DEMO_USER_PREFIX}user`;
  const deviceId = fields.deviceId ?? `browser-${randomBytes(4).toString('hex')}`;
  if (typeof userId !== 'string' || !userId.startsWith(DEMO_USER_PREFIX) || !ID_PATTERN.test(userId)) {
    throw new RequestError(400, 'invalid_request', `field "userId" must start with "${DEMO_USER_PREFIX}" and contain only letters, digits, ".", "_" and "-" (at most 64), got ${JSON.stringify(userId)}`);
  }
  if (typeof deviceId !== 'string' || !ID_PATTERN.test(deviceId)) {
    throw new RequestError(400, 'invalid_request', `field "deviceId" must contain only letters, digits, ".", "_" and "-" (at most 64), got ${JSON.stringify(deviceId)}`);
  }
  return { userId, deviceId };
}
