// Logging for the browser client. The client takes any object with these four methods, so a page
// can pass pino's browser build, its own panel writer, or nothing (silent).

export interface BrowserLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const ignore = (): void => {};

export const silentBrowserLogger: BrowserLogger = { debug: ignore, info: ignore, warn: ignore, error: ignore };

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type BrowserLogLevel = (typeof LEVELS)[number];

interface ConsoleLike {
  debug(...values: unknown[]): void;
  info(...values: unknown[]): void;
  warn(...values: unknown[]): void;
  error(...values: unknown[]): void;
}

/** A logger that writes to the browser console at `level` and above, each line prefixed "pushlab". */
export function consoleLogger(level: BrowserLogLevel = 'info', target: ConsoleLike = console): BrowserLogger {
  const threshold = LEVELS.indexOf(level);
  const method = (name: BrowserLogLevel) => (LEVELS.indexOf(name) < threshold ? ignore : (fields: object, message: string) => target[name]('pushlab', message, fields));
  return { debug: method('debug'), info: method('info'), warn: method('warn'), error: method('error') };
}
