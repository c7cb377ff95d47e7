// HTTP long-polling, the rung below WebTransport for browsers without it. The gateway has no
// long-polling endpoint yet, so the opener reports the rung as skipped instead of failing the client.
import { TransportSkippedError } from '../errors.js';
import type { Link, LinkContext } from './link.js';

export function openHttpPollingLink(context: LinkContext): Promise<Link> {
  return Promise.reject(
    new TransportSkippedError('http-polling', 'not-implemented', `the gateway at ${context.gatewayHttpUrl} has no HTTP long-polling endpoint yet`),
  );
}
