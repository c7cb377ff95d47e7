// Runs `pushlab gateway` as a child process, as an operator would, and reads its ready line to
// learn the listener ports, the HTTP address and the certificate. Running the gateway in
// its own process keeps its memory and CPU apart from the devices, relay and workload in the runner.
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReadyLine } from '../cli/gateway-command.js';
import { toError } from '../errors.js';
import type { Logger } from '../logger.js';
import { ExperimentError } from './errors.js';

const LAUNCHER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/pushlab.mjs');
const READY_TIMEOUT_MS = 30_000;
/** The gateway itself gives up on a clean shutdown after 10 s; this leaves it time to report that. */
const STOP_TIMEOUT_MS = 12_000;
/** Lines of the gateway's stderr kept for error messages. */
const STDERR_TAIL_LINES = 40;

export interface GatewayProcessOptions {
  /** Transport names to listen on, each on `host` with a free port. */
  transports: string[];
  /** Address the listeners bind to, each on a free port. */
  host: string;
  /** Address of the HTTP API; port 0 picks a free one. */
  http: { host: string; port: number };
  /** Starts the process; the link backend decides where it runs. */
  spawn: (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;
  heartbeat: { intervalMs: number; timeoutMs: number };
  /** File holding the token HMAC secret the runner also signs device tokens with. */
  secretFile: string;
  /** PEM certificate and key files for the TLS-based transports. */
  tlsFiles: { certFile: string; keyFile: string };
  /** The gateway's pino level. */
  logLevel: string;
  logger: Logger;
  /** Receives each stderr line of the gateway (its JSON log lines). */
  onLogLine?: (line: string) => void;
}

/** Children still running; killed if the runner exits without stopping them. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

export class GatewayProcess {
  private readonly tail: string[] = [];
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stopping: Promise<number | null> | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly logger: Logger,
    onLogLine: ((line: string) => void) | undefined,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        running.delete(child);
        resolve({ code, signal });
      });
    });
    let partial = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.length === 0) continue;
        this.tail.push(line);
        if (this.tail.length > STDERR_TAIL_LINES) this.tail.shift();
        onLogLine?.(line);
      }
    });
  }

  /** Spawns the gateway and resolves with its ready line; throws ExperimentError (phase gateway-start) otherwise. */
  static async start(options: GatewayProcessOptions): Promise<{ gateway: GatewayProcess; ready: ReadyLine }> {
    const args = [
      LAUNCHER,
      'gateway',
      ...options.transports.flatMap((transport) => ['--listen', `${transport}=${hostPort(options.host)}`]),
      '--http',
      hostPort(options.http.host, options.http.port),
      '--auth-secret-file',
      options.secretFile,
      '--tls-cert',
      options.tlsFiles.certFile,
      '--tls-key',
      options.tlsFiles.keyFile,
      '--heartbeat-interval',
      `${options.heartbeat.intervalMs}ms`,
      '--heartbeat-timeout',
      `${options.heartbeat.timeoutMs}ms`,
      '--log-level',
      options.logLevel,
    ];
    installExitHook();
    const child = options.spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const gateway = new GatewayProcess(child, options.logger, options.onLogLine);
    options.logger.info({ pid: child.pid, transports: options.transports }, 'gateway process started');
    try {
      const ready = await gateway.readReadyLine();
      options.logger.info({ pid: ready.pid, listeners: ready.listeners, http: ready.http }, 'gateway ready');
      return { gateway, ready };
    } catch (error) {
      await gateway.stop();
      throw error;
    }
  }

  /** Returns the last lines the gateway wrote to stderr. */
  stderrTail(): string {
    return this.tail.join('\n');
  }

  /**
   * Sends SIGTERM and waits for the exit, then SIGKILL if the gateway has not exited within 12 s.
   * Resolves with the exit code (null when a signal ended it).
   */
  stop(): Promise<number | null> {
    this.stopping ??= this.terminate();
    return this.stopping;
  }

  private async terminate(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
    });
    const outcome = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.logger.warn({ pid: this.child.pid, timeoutMs: STOP_TIMEOUT_MS }, 'gateway did not exit after SIGTERM; sending SIGKILL');
      this.child.kill('SIGKILL');
      return (await this.exited).code;
    }
    if (outcome.code !== 0) this.logger.warn({ pid: this.child.pid, code: outcome.code, signal: outcome.signal, stderr: this.stderrTail() }, 'gateway exited with a failure status');
    return outcome.code;
  }

  private readReadyLine(): Promise<ReadyLine> {
    return new Promise((resolve, reject) => {
      let buffered = '';
      const fail = (message: string, cause?: unknown): void => {
        cleanup();
        const stderr = this.stderrTail();
        reject(new ExperimentError('gateway-start', `${message}${stderr ? `; gateway stderr:\n${stderr}` : ''}`, { cause }));
      };
      const onData = (chunk: Buffer): void => {
        buffered += chunk.toString('utf8');
        const newline = buffered.indexOf('\n');
        if (newline < 0) return;
        const line = buffered.slice(0, newline);
        let ready: ReadyLine;
        try {
          ready = JSON.parse(line) as ReadyLine;
        } catch (error) {
          fail(`gateway printed a first stdout line that is not JSON: ${JSON.stringify(line.slice(0, 200))} (${toError(error).message})`, error);
          return;
        }
        if (ready.event !== 'ready' || !Array.isArray(ready.listeners) || typeof ready.http?.port !== 'number') {
          fail(`gateway printed an unexpected first stdout line: ${JSON.stringify(line.slice(0, 200))}`);
          return;
        }
        cleanup();
        resolve(ready);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        // Let the last stderr chunk arrive before the message quotes it.
        setImmediate(() => fail(`gateway exited before it was ready (status ${code ?? 'none'}, signal ${signal ?? 'none'})`));
      };
      const timer = setTimeout(() => fail(`gateway printed no ready line within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.child.stdout!.off('data', onData);
        this.child.off('exit', onExit);
      };
      this.child.stdout!.on('data', onData);
      this.child.once('exit', onExit);
    });
  }
}

/** HOST:PORT for the CLI, with brackets around an IPv6 address. */
function hostPort(host: string, port = 0): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
/** pino's standard fields, left out of the formatted line. */
const STANDARD_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

/** Shortens one pino JSON line of the gateway to "level: message {other fields}"; other text passes unchanged. */
export function formatGatewayLogLine(line: string): string {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return line;
  const record = entry as Record<string, unknown>;
  const level = typeof record.level === 'number' ? (LEVEL_NAMES[record.level] ?? String(record.level)) : '?';
  const extra = Object.fromEntries(Object.entries(record).filter(([key]) => !STANDARD_FIELDS.has(key)));
  const fields = Object.keys(extra).length > 0 ? ` ${JSON.stringify(extra)}` : '';
  return `${level}: ${String(record.msg ?? '')}${fields}`;
}
