// Device tokens: HMAC-SHA256 signed claims with an expiry, issued by the application backend (or
// `pushlab token`) and checked by the gateway during the hello handshake.
//
// Format: base64url(JSON claims) "." base64url(HMAC-SHA256(secret, first part)). The signature
// covers the encoded claims exactly as sent, so no canonical JSON form is needed. Times are epoch
// milliseconds read from the injected clock.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import { AuthError, ConfigError } from '../errors.js';
import type { TokenVerifier } from './options.js';

/** HMAC keys shorter than the hash output weaken it (RFC 2104, section 3); SHA-256 outputs 32 bytes. */
export const MIN_SECRET_BYTES = 32;

/** Default tolerance for clock differences between the issuing host and the gateway. */
export const DEFAULT_LEEWAY_MS = 5_000;

const SIGNATURE_BYTES = 32;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The decoded, verified content of a token. */
export interface TokenClaims {
  userId: string;
  /** The one device the token is valid for; any device of the user when absent. */
  deviceId?: string;
  /** Epoch milliseconds. */
  issuedAt: number;
  /** Epoch milliseconds; the token is rejected after this instant plus the leeway. */
  expiresAt: number;
}

export interface IssueTokenRequest {
  userId: string;
  deviceId?: string;
  /** Lifetime in milliseconds from now. */
  ttlMs: number;
}

export interface HmacTokenAuthorityOptions {
  /** Clock skew tolerated on the expiry and issue times, in milliseconds; default 5000. */
  leewayMs?: number;
}

/** The JSON object inside a token; short keys keep tokens small. */
interface WireClaims {
  sub: string;
  dev?: string;
  iat: number;
  exp: number;
}

export class HmacTokenAuthority implements TokenVerifier {
  private readonly secret: Buffer;
  private readonly leewayMs: number;

  constructor(
    secret: string | Uint8Array,
    private readonly clock: Clock = systemClock,
    options: HmacTokenAuthorityOptions = {},
  ) {
    this.secret = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
    if (this.secret.length < MIN_SECRET_BYTES) {
      throw new ConfigError(
        `auth secret is ${this.secret.length} bytes; at least ${MIN_SECRET_BYTES} bytes are required (for example: openssl rand -base64 48)`,
      );
    }
    this.leewayMs = options.leewayMs ?? DEFAULT_LEEWAY_MS;
    if (!Number.isInteger(this.leewayMs) || this.leewayMs < 0) {
      throw new ConfigError(`auth leewayMs must be a non-negative integer number of milliseconds, got ${String(options.leewayMs)}`);
    }
  }

  /** Signs a token for `userId` (and `deviceId` when given) that expires `ttlMs` from now. */
  issue(request: IssueTokenRequest): string {
    if (typeof request.userId !== 'string' || request.userId.length === 0) {
      throw new ConfigError('token userId must be a non-empty string');
    }
    if (request.deviceId !== undefined && (typeof request.deviceId !== 'string' || request.deviceId.length === 0)) {
      throw new ConfigError('token deviceId must be a non-empty string when given');
    }
    if (!Number.isInteger(request.ttlMs) || request.ttlMs <= 0) {
      throw new ConfigError(`token ttlMs must be a positive integer number of milliseconds, got ${String(request.ttlMs)}`);
    }

    const issuedAt = Math.floor(this.clock.now());
    const claims: WireClaims = { sub: request.userId, iat: issuedAt, exp: issuedAt + request.ttlMs };
    if (request.deviceId !== undefined) claims.dev = request.deviceId;

    const body = Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url');
    return `${body}.${this.sign(body).toString('base64url')}`;
  }

  /**
   * Verifies the signature first and reads the claims only after it matches, so unsigned input
   * never reaches JSON.parse. Throws AuthError naming the reason; returns the claims otherwise.
   */
  verify(token: string, expected: { userId: string; deviceId: string }): TokenClaims {
    if (typeof token !== 'string') throw new AuthError('malformed token: not a string');
    const parts = token.split('.');
    const [body, signature] = parts;
    if (parts.length !== 2 || body === undefined || signature === undefined) {
      throw new AuthError('malformed token: expected two base64url parts separated by "."');
    }
    if (!BASE64URL.test(body) || !BASE64URL.test(signature)) {
      throw new AuthError('malformed token: a part is empty or not base64url');
    }

    const presented = Buffer.from(signature, 'base64url');
    if (presented.length !== SIGNATURE_BYTES) {
      throw new AuthError(`malformed token: signature is ${presented.length} bytes, expected ${SIGNATURE_BYTES}`);
    }
    // timingSafeEqual keeps the comparison time independent of where the first differing byte is.
    if (!timingSafeEqual(presented, this.sign(body))) {
      throw new AuthError('bad token signature: the token was altered or signed with another secret');
    }

    const claims = parseClaims(body);
    const now = this.clock.now();
    if (now > claims.exp + this.leewayMs) {
      throw new AuthError(`token expired at ${new Date(claims.exp).toISOString()}`);
    }
    if (claims.iat > now + this.leewayMs) {
      throw new AuthError(`token issued in the future (${new Date(claims.iat).toISOString()}); check the issuer's clock`);
    }
    if (claims.sub !== expected.userId) {
      throw new AuthError('token was issued for another user');
    }
    if (claims.dev !== undefined && claims.dev !== expected.deviceId) {
      throw new AuthError('token was issued for another device');
    }

    const result: TokenClaims = { userId: claims.sub, issuedAt: claims.iat, expiresAt: claims.exp };
    if (claims.dev !== undefined) result.deviceId = claims.dev;
    return result;
  }

  private sign(body: string): Buffer {
    return createHmac('sha256', this.secret).update(body, 'utf8').digest();
  }
}

/** Decodes the claims of a token whose signature already matched. */
function parseClaims(body: string): WireClaims {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw new AuthError('malformed token: claims are not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AuthError('malformed token: claims are not a JSON object');
  }
  const claims = value as Record<string, unknown>;
  if (typeof claims.sub !== 'string' || claims.sub.length === 0) {
    throw new AuthError('malformed token: claim "sub" must be a non-empty string');
  }
  if (claims.dev !== undefined && (typeof claims.dev !== 'string' || claims.dev.length === 0)) {
    throw new AuthError('malformed token: claim "dev" must be a non-empty string');
  }
  if (!Number.isFinite(claims.iat) || !Number.isFinite(claims.exp)) {
    throw new AuthError('malformed token: claims "iat" and "exp" must be numbers');
  }
  return claims as unknown as WireClaims;
}
