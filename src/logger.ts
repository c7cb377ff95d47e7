// pino is the logger; every component takes a Logger and derives a child with its own bindings
// (component name, session id, device id), so log lines can be filtered per session.
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Component name bound to every line. */
  name?: string;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino({ level: options.level ?? process.env.PUSHLAB_LOG_LEVEL ?? 'info', name: options.name ?? 'pushlab' });
}

/** Creates a logger that discards everything: the default for library users who pass none, and for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
