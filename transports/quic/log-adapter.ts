// Adapts the project's pino logger to the logger interface @matrixai/quic expects.
//
// The library logs every start, stop and closed connection at INFO (several lines per connection),
// and it never logs at WARN or ERROR. The adapter therefore maps library INFO and DEBUG to pino
// `trace`, which keeps the library quiet at every usual level yet available for debugging. The
// transport logs the events that matter (accept failures, guarded errors) itself.
import type { QUICServer } from '@matrixai/quic';
import type { Logger } from '../../src/logger.js';

export type LibraryLogger = NonNullable<ConstructorParameters<typeof QUICServer>[0]['logger']>;

type Message = { toString(): string } | undefined;

/** Returns a library logger that writes through `logger`; children share it (no per-connection objects). */
export function libraryLogger(logger: Logger): LibraryLogger {
  const adapter = {
    getChild: () => adapter,
    debug: (message?: Message) => {
      if (logger.isLevelEnabled('trace')) logger.trace({ library: '@matrixai/quic' }, String(message));
    },
    info: (message?: Message) => {
      if (logger.isLevelEnabled('trace')) logger.trace({ library: '@matrixai/quic' }, String(message));
    },
    warn: (message?: Message) => logger.warn({ library: '@matrixai/quic' }, String(message)),
    error: (message?: Message) => logger.error({ library: '@matrixai/quic' }, String(message)),
  };
  return adapter as unknown as LibraryLogger;
}
