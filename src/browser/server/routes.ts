// HTTP routes for browsers, added to the gateway's HTTP API:
//
//   GET  /                           302 to /demo
//   GET  /demo, /demo/app.js, /demo/style.css   the demo page (web/)
//   GET  /browser/pushlab-client.js  the bundled browser client
//   GET  /webtransport/cert-hashes   { transport, url, hashes } or 404 without a webtransport listener
//   POST /demo/token                 only with demo tokens enabled (see demo-token.ts)
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toError } from '../../errors.js';
import { sendError, sendJson, type HttpRoute } from '../../gateway/http-api.js';
import type { Logger } from '../../logger.js';
import { isLoopbackOrigin } from '../../tls/cert-manager.js';
import { CERT_HASHES_PATH } from '../links/webtransport-endpoint.js';
import { loadBrowserBundle } from './bundle.js';
import { demoTokenRoute, type DemoTokenOptions } from './demo-token.js';
import { webTransportEndpoint, type ListenerInfo } from './webtransport-endpoint.js';

export const WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web');
export const CLIENT_BUNDLE_PATH = '/browser/pushlab-client.js';

export interface BrowserRoutesOptions {
  /** The gateway's listeners, read on every request (Gateway.listeners). */
  listeners: () => readonly ListenerInfo[];
  logger: Logger;
  /** Enables POST /demo/token; leave undefined outside demos. */
  demoTokens?: Omit<DemoTokenOptions, 'logger'>;
  /** Directory of the demo page's files; default web/ of this checkout. */
  webRoot?: string;
}

const STATIC_FILES: { path: string; file: string; type: string }[] = [
  { path: '/demo', file: 'demo.html', type: 'text/html; charset=utf-8' },
  { path: '/demo/app.js', file: 'demo.js', type: 'text/javascript; charset=utf-8' },
  { path: '/demo/style.css', file: 'demo.css', type: 'text/css; charset=utf-8' },
];

export function browserRoutes(options: BrowserRoutesOptions): HttpRoute[] {
  const logger = options.logger.child({ component: 'browser-routes' });
  const webRoot = options.webRoot ?? WEB_ROOT;
  const routes: HttpRoute[] = [
    {
      method: 'GET',
      path: '/',
      handle: (_request, response) => {
        response.writeHead(302, { Location: '/demo', 'Content-Length': 0 }).end();
      },
    },
    ...STATIC_FILES.map((entry): HttpRoute => ({
      method: 'GET',
      path: entry.path,
      handle: async (_request, response) => {
        let body: Buffer;
        try {
          body = await readFile(path.join(webRoot, entry.file));
        } catch (error) {
          logger.error({ err: toError(error), file: entry.file }, 'demo page file missing');
          sendError(response, 500, 'internal', `demo page file ${entry.file} is missing from ${webRoot}`);
          return;
        }
        sendBody(response, entry.type, body);
      },
    })),
    {
      method: 'GET',
      path: CLIENT_BUNDLE_PATH,
      handle: async (_request, response) => {
        let bundle: string;
        try {
          bundle = await loadBrowserBundle();
        } catch (error) {
          logger.error({ err: toError(error) }, 'building the browser client bundle failed');
          sendError(response, 500, 'bundle_failed', `building the browser client failed: ${toError(error).message}; run node scripts/build-browser.mjs to see the details`);
          return;
        }
        sendBody(response, 'text/javascript; charset=utf-8', Buffer.from(bundle));
      },
    },
    {
      method: 'GET',
      path: CERT_HASHES_PATH,
      handle: (request, response) => serveEndpoint(options, request, response),
    },
  ];
  if (options.demoTokens !== undefined) routes.push(demoTokenRoute({ ...options.demoTokens, logger: options.logger }));
  return routes;
}

function serveEndpoint(options: BrowserRoutesOptions, request: http.IncomingMessage, response: http.ServerResponse): void {
  // Pages served elsewhere on this machine (a dev server on another port) may read the pins too.
  const origin = request.headers.origin;
  if (origin !== undefined && isLoopbackOrigin(origin)) {
    response.setHeader('Access-Control-Allow-Origin', origin);
    response.setHeader('Vary', 'Origin');
  }
  response.setHeader('Cache-Control', 'no-store');
  const document = webTransportEndpoint(options.listeners(), request.headers.host);
  if (document === undefined) {
    sendError(response, 404, 'not_found', 'this gateway runs no webtransport listener; start it with --listen webtransport=HOST:PORT');
    return;
  }
  sendJson(response, 200, document);
}

function sendBody(response: http.ServerResponse, type: string, body: Buffer): void {
  response.writeHead(200, {
    'Content-Type': type,
    'Content-Length': body.length,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  response.end(body);
}
