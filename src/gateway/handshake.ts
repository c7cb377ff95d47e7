// The gateway side of a connection before its hello: the first frame must be a valid, authenticated
// hello within the handshake timeout, or the connection is closed with the matching code.
import type { Clock } from '../clock.js';
import { decodeFrame } from '../codec/frame-codec.js';
import { CloseCode, PROTOCOL_VERSION, type Hello } from '../codec/proto.js';
import { AuthError, FrameTooLargeError, ProtocolError, toError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { GatewayMetrics, HandshakeOutcome } from '../metrics/gateway-metrics.js';
import { sendCloseAndEnd } from '../session/close.js';
import type { TransportConnection } from '../transport/types.js';
import type { TokenVerifier } from './options.js';

export interface HandshakeContext {
  authenticator: TokenVerifier;
  handshakeTimeoutMs: number;
  clock: Clock;
  logger: Logger;
  metrics: GatewayMetrics;
  /** Turns an authenticated hello into a live session; returns a close code to refuse it. */
  admit(connection: TransportConnection, hello: Hello): CloseCode | null;
}

const OUTCOME_BY_CODE: Partial<Record<CloseCode, HandshakeOutcome>> = {
  [CloseCode.AUTH_FAILED]: 'auth_failed',
  [CloseCode.STALE_ATTEMPT]: 'stale_attempt',
  [CloseCode.PROTOCOL_ERROR]: 'protocol_error',
  [CloseCode.FRAME_TOO_LARGE]: 'frame_too_large',
  [CloseCode.HANDSHAKE_TIMEOUT]: 'timeout',
};

/** Watches a fresh connection until its hello is handled. */
export function awaitHello(connection: TransportConnection, ctx: HandshakeContext): void {
  const transport = connection.transport;
  const logger = ctx.logger.child({ connection: connection.id, remote: connection.remoteAddress });
  let done = false;
  ctx.metrics.connectionsOpened.inc({ transport });

  const refuse = (code: CloseCode, reason: string, error?: Error): void => {
    if (done) return;
    done = true;
    timer.cancel();
    ctx.metrics.handshakes.inc({ transport, outcome: OUTCOME_BY_CODE[code] ?? 'protocol_error' });
    ctx.metrics.connectionsClosed.inc({ transport, code: CloseCode[code] ?? String(code) });
    if (code === CloseCode.PROTOCOL_ERROR || code === CloseCode.FRAME_TOO_LARGE) {
      ctx.metrics.protocolErrors.inc({ transport, kind: code === CloseCode.FRAME_TOO_LARGE ? 'frame_too_large' : 'malformed' });
    }
    logger.info({ code: CloseCode[code], reason, err: error }, 'connection refused before session start');
    sendCloseAndEnd(connection, code, reason);
  };

  const timer = ctx.clock.setTimeout(() => refuse(CloseCode.HANDSHAKE_TIMEOUT, `no hello within ${ctx.handshakeTimeoutMs} ms`), ctx.handshakeTimeoutMs);

  connection.setHandler({
    onFrame(bytes) {
      if (done) return;
      let hello: Hello;
      try {
        const frame = decodeFrame(bytes);
        if (frame.body !== 'hello') throw new ProtocolError(`expected hello as the first frame, got ${frame.body}`);
        hello = frame.hello!;
        if (hello.protocolVersion !== PROTOCOL_VERSION) throw new ProtocolError(`unsupported protocol version ${hello.protocolVersion}; this gateway speaks ${PROTOCOL_VERSION}`);
        if (!hello.userId || !hello.deviceId) throw new ProtocolError('hello is missing user_id or device_id');
      } catch (error) {
        refuse(CloseCode.PROTOCOL_ERROR, toError(error).message, toError(error));
        return;
      }
      try {
        ctx.authenticator.verify(hello.token ?? '', { userId: hello.userId, deviceId: hello.deviceId });
      } catch (error) {
        const reason = error instanceof AuthError ? error.message : 'token verification failed';
        refuse(CloseCode.AUTH_FAILED, reason, toError(error));
        return;
      }
      const refusal = ctx.admit(connection, hello);
      if (refusal !== null) {
        refuse(refusal, refusal === CloseCode.STALE_ATTEMPT ? 'a newer connection attempt from this client already holds the session' : 'session refused');
        return;
      }
      done = true;
      timer.cancel();
      ctx.metrics.handshakes.inc({ transport, outcome: 'ok' });
    },
    onError(error) {
      refuse(error instanceof FrameTooLargeError ? CloseCode.FRAME_TOO_LARGE : CloseCode.PROTOCOL_ERROR, error.message, error);
    },
    onDrain() {},
    onClose() {
      if (done) return;
      done = true;
      timer.cancel();
      ctx.metrics.connectionsClosed.inc({ transport, code: 'CLOSE_CODE_UNSPECIFIED' });
    },
  });
}
