import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock.js';
import { AuthError, ConfigError } from '../../src/errors.js';
import { DEFAULT_LEEWAY_MS, HmacTokenAuthority } from '../../src/gateway/auth.js';

const SECRET = 'auth-test-secret-0123456789abcdef-0123456789';
const HOUR_MS = 3_600_000;

function expectAuthError(action: () => unknown, reason: RegExp): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(AuthError);
  expect((caught as AuthError).code).toBe('AUTH_FAILED');
  expect((caught as AuthError).message).toMatch(reason);
}

/** Re-signs arbitrary claims with the test secret, to reach the checks that follow the signature. */
function signRaw(claimsJson: string): string {
  const body = Buffer.from(claimsJson, 'utf8').toString('base64url');
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

describe('HmacTokenAuthority', () => {
  it('verifies a token for its user and device', () => {
    const clock = new VirtualClock();
    const authority = new HmacTokenAuthority(SECRET, clock);
    const token = authority.issue({ userId: 'alice', deviceId: 'phone', ttlMs: HOUR_MS });

    const claims = authority.verify(token, { userId: 'alice', deviceId: 'phone' });

    expect(claims).toEqual({ userId: 'alice', deviceId: 'phone', issuedAt: clock.now(), expiresAt: clock.now() + HOUR_MS });
  });

  it('accepts a user-wide token on any device', () => {
    const authority = new HmacTokenAuthority(SECRET, new VirtualClock());
    const token = authority.issue({ userId: 'alice', ttlMs: HOUR_MS });

    expect(authority.verify(token, { userId: 'alice', deviceId: 'phone' }).deviceId).toBeUndefined();
    expect(authority.verify(token, { userId: 'alice', deviceId: 'tablet' }).userId).toBe('alice');
  });

  it('accepts a Uint8Array secret', () => {
    const bytes = new Uint8Array(32).map((_, index) => index);
    const authority = new HmacTokenAuthority(bytes, new VirtualClock());
    const token = authority.issue({ userId: 'alice', ttlMs: 1_000 });
    expect(authority.verify(token, { userId: 'alice', deviceId: 'phone' }).userId).toBe('alice');
  });

  it('rejects an expired token after the leeway', () => {
    const clock = new VirtualClock();
    const authority = new HmacTokenAuthority(SECRET, clock);
    const token = authority.issue({ userId: 'alice', deviceId: 'phone', ttlMs: 60_000 });

    clock.advance(60_000 + DEFAULT_LEEWAY_MS);
    expect(authority.verify(token, { userId: 'alice', deviceId: 'phone' }).userId).toBe('alice');

    clock.advance(1);
    expectAuthError(() => authority.verify(token, { userId: 'alice', deviceId: 'phone' }), /expired/);
  });

  it('applies a custom leeway', () => {
    const clock = new VirtualClock();
    const authority = new HmacTokenAuthority(SECRET, clock, { leewayMs: 0 });
    const token = authority.issue({ userId: 'alice', ttlMs: 1_000 });

    clock.advance(1_001);
    expectAuthError(() => authority.verify(token, { userId: 'alice', deviceId: 'phone' }), /expired/);
  });

  it('rejects a token issued in the future', () => {
    const issuerClock = new VirtualClock(1_700_000_060_000);
    const gatewayClock = new VirtualClock(1_700_000_000_000);
    const token = new HmacTokenAuthority(SECRET, issuerClock).issue({ userId: 'alice', ttlMs: HOUR_MS });

    expectAuthError(() => new HmacTokenAuthority(SECRET, gatewayClock).verify(token, { userId: 'alice', deviceId: 'phone' }), /issued in the future/);
  });

  it('rejects a token for another user', () => {
    const authority = new HmacTokenAuthority(SECRET, new VirtualClock());
    const token = authority.issue({ userId: 'alice', deviceId: 'phone', ttlMs: HOUR_MS });
    expectAuthError(() => authority.verify(token, { userId: 'bob', deviceId: 'phone' }), /another user/);
  });

  it('rejects a token for another device', () => {
    const authority = new HmacTokenAuthority(SECRET, new VirtualClock());
    const token = authority.issue({ userId: 'alice', deviceId: 'phone', ttlMs: HOUR_MS });
    expectAuthError(() => authority.verify(token, { userId: 'alice', deviceId: 'tablet' }), /another device/);
  });

  it('rejects tampered claims', () => {
    const authority = new HmacTokenAuthority(SECRET, new VirtualClock());
    const token = authority.issue({ userId: 'alice', deviceId: 'phone', ttlMs: HOUR_MS });
    const [body, signature] = token.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'mallory' })).toString('base64url');

    expectAuthError(() => authority.verify(`${forged}.${signature}`, { userId: 'mallory', deviceId: 'phone' }), /bad token signature/);
  });

  it('rejects a flipped signature bit', () => {
    const authority = new HmacTokenAuthority(SECRET, new VirtualClock());
    const token = authority.issue({ userId: 'alice', ttlMs: HOUR_MS });
    const [body, signature] = token.split('.') as [string, string];
    const bytes = Buffer.from(signature, 'base64url');
    bytes[0] = (bytes[0] ?? 0) ^ 1;

    expectAuthError(() => authority.verify(`${body}.${bytes.toString('base64url')}`, { userId: 'alice', deviceId: 'phone' }), /bad token signature/);
  });

  it('rejects a token signed with another secret', () => {
    const clock = new VirtualClock();
    const token = new HmacTokenAuthority(`${SECRET}-other`, clock).issue({ userId: 'alice', ttlMs: HOUR_MS });
    expectAuthError(() => new HmacTokenAuthority(SECRET, clock).verify(token, { userId: 'alice', deviceId: 'phone' }), /bad token signature/);
  });

  it('rejects malformed tokens', () => {
    const authority = new HmacTokenAuthority(SECRET, new VirtualClock());
    const valid = authority.issue({ userId: 'alice', ttlMs: HOUR_MS });
    const cases: [string, RegExp][] = [
      ['', /malformed/],
      ['no-dot', /malformed/],
      ['a.b.c', /malformed/],
      [`${valid}.extra`, /malformed/],
      ['.abc', /malformed/],
      ['abc.', /malformed/],
      ['ab$c.def', /malformed/],
      [`${valid.split('.')[0]}.AAAA`, /signature is 3 bytes/],
    ];
    for (const [token, reason] of cases) {
      expectAuthError(() => authority.verify(token, { userId: 'alice', deviceId: 'phone' }), reason);
    }
  });

  it('rejects signed claims of the wrong shape', () => {
    const authority = new HmacTokenAuthority(SECRET, new VirtualClock());
    const now = 1_700_000_000_000;
    const cases: [string, RegExp][] = [
      ['not json', /not JSON/],
      ['[1,2]', /not a JSON object/],
      [JSON.stringify({ iat: now, exp: now + 1 }), /"sub"/],
      [JSON.stringify({ sub: 'alice', dev: 7, iat: now, exp: now + 1 }), /"dev"/],
      [JSON.stringify({ sub: 'alice', iat: now, exp: 'later' }), /"iat" and "exp"/],
    ];
    for (const [claims, reason] of cases) {
      expectAuthError(() => authority.verify(signRaw(claims), { userId: 'alice', deviceId: 'phone' }), reason);
    }
  });

  it('rejects a secret shorter than 32 bytes', () => {
    expect(() => new HmacTokenAuthority('short-secret')).toThrow(ConfigError);
    expect(() => new HmacTokenAuthority('short-secret')).toThrow(/12 bytes; at least 32/);
    expect(() => new HmacTokenAuthority(new Uint8Array(31))).toThrow(/31 bytes/);
  });

  it('rejects invalid issue requests', () => {
    const authority = new HmacTokenAuthority(SECRET, new VirtualClock());
    expect(() => authority.issue({ userId: '', ttlMs: 1_000 })).toThrow(/userId/);
    expect(() => authority.issue({ userId: 'alice', deviceId: '', ttlMs: 1_000 })).toThrow(/deviceId/);
    expect(() => authority.issue({ userId: 'alice', ttlMs: 0 })).toThrow(/ttlMs/);
    expect(() => authority.issue({ userId: 'alice', ttlMs: 1.5 })).toThrow(/ttlMs/);
  });
});
