// Errors of the browser client. They extend the project's PushlabError, so a page can branch on
// `code` the same way Node code does.
import { PushlabError } from '../errors.js';

/** Why a rung of the transport ladder was passed over. */
export type SkipReason =
  /** This browser lacks the API (no WebTransport, or not a secure context). */
  | 'unsupported'
  /** The gateway has no listener for this transport. */
  | 'not-offered'
  /** The client knows the name but the gateway side does not exist yet. */
  | 'not-implemented'
  /** The ladder names a transport this client has no opener for. */
  | 'unknown';

/** A transport that was not even tried; the client moves to the next one in the ladder. */
export class TransportSkippedError extends PushlabError {
  override readonly name = 'TransportSkippedError';
  constructor(
    readonly transport: string,
    readonly reason: SkipReason,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super('TRANSPORT_FAILED', `${transport} skipped: ${message}`, options);
  }
}

/** Fetching the gateway's endpoint description (URL and certificate hashes) failed or returned nonsense. */
export class EndpointDiscoveryError extends PushlabError {
  override readonly name = 'EndpointDiscoveryError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('TRANSPORT_FAILED', message, options);
  }
}

/** An operation that needs a live session (an RTT probe) ran while none was up. */
export class NotConnectedError extends PushlabError {
  override readonly name = 'NotConnectedError';
  constructor(message: string) {
    super('NOT_CONNECTED', message);
  }
}
