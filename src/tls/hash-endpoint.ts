// The HTTP endpoint that serves a CertificateManager's hashes to pages on loopback origins.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CertificateManager } from './cert-manager.js';

/** Accepts pages served from localhost, 127.0.0.1 or [::1] on any port, over http or https. */
export function isLoopbackOrigin(origin: string): boolean {
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
}

export interface HashEndpointOptions {
  /** Default /webtransport/cert-hashes. */
  path?: string;
  /** Origins that may read the list cross-origin; default isLoopbackOrigin. */
  isAllowedOrigin?: (origin: string) => boolean;
}

/**
 * Returns a node:http request handler that serves `{ "hashes": [...] }` (see CertificateHashEntry)
 * at GET `path`, with CORS headers for allowed origins; other paths get 404.
 */
export function certificateHashesHandler(manager: CertificateManager, options: HashEndpointOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const path = options.path ?? '/webtransport/cert-hashes';
  const isAllowedOrigin = options.isAllowedOrigin ?? isLoopbackOrigin;
  return (req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (pathname !== path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const origin = req.headers.origin;
    const cors: Record<string, string> = { vary: 'origin' };
    if (origin !== undefined && isAllowedOrigin(origin)) cors['access-control-allow-origin'] = origin;
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET', 'access-control-max-age': '600' }).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...cors, allow: 'GET, HEAD, OPTIONS' }).end();
      return;
    }
    const body = JSON.stringify({ hashes: manager.hashes() });
    res.writeHead(200, { ...cors, 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
