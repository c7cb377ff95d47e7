// Which page origins may open a WebTransport session. Browsers send the page's origin with the
// extended CONNECT and rely on the server to check it (draft-ietf-webtrans-http3-02, "Creating a
// New Session"). Without a check, any web page could reach the gateway from a visitor's browser.
import { isLoopbackOrigin } from '../../src/tls/cert-manager.js';

export type OriginDecision = { allowed: true } | { allowed: false; reason: string };

/**
 * Returns the check for `allowedOrigins`: '*' accepts everything, a list accepts exactly those
 * origins (compared after URL normalisation, so "https://App.example:443" matches
 * "https://app.example"), and undefined accepts pages served from localhost, 127.0.0.1 or [::1]
 * on any port. A request without an origin is accepted only with '*', because every browser sends
 * one.
 */
export function originPolicy(allowedOrigins: string[] | '*' | undefined): (origin: string | undefined) => OriginDecision {
  if (allowedOrigins === '*') return () => ({ allowed: true });
  const allowed = allowedOrigins === undefined ? null : new Set(allowedOrigins.map(normalizeOrigin));
  return (origin) => {
    if (origin === undefined) return { allowed: false, reason: 'the request has no origin field' };
    const matches = allowed === null ? isLoopbackOrigin(origin) : allowed.has(normalizeOrigin(origin));
    return matches ? { allowed: true } : { allowed: false, reason: `origin ${origin} is not allowed` };
  };
}

function normalizeOrigin(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    return origin;
  }
}
