// The runner's side of a device driver (device-driver.ts) running in another process, typically in
// the client's network namespace. It forwards receipts to the cell's ReceiptSink as they arrive and
// turns requests into promises that settle with the driver's replies.
import type { ChildProcess } from 'node:child_process';
import { toError } from '../errors.js';
import type { Logger } from '../logger.js';
import { lineSplitter, type DriverMessage, type DriverRequest } from './driver-protocol.js';
import { ExperimentError, type ExperimentPhase } from './errors.js';
import { deviceIdentity, type DeviceIdentity, type Fleet, type FleetSpec, type FleetSummary, type ReceiptSink } from './fleet.js';

/** Bound on the driver's start-up (loading Node, tsx and the transports) and on plain requests. */
const DRIVER_START_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 15_000;
const STDERR_TAIL_LINES = 20;

type Reply = Extract<DriverMessage, { type: 'reply' }>;

export class RemoteFleet implements Fleet {
  identities: DeviceIdentity[] = [];
  private receipts: ReceiptSink | null = null;
  private connected = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  private readonly stderrTail: string[] = [];
  private readonly exited: Promise<void>;
  private listening: Promise<void>;
  private exitReason: string | null = null;

  /**
   * Takes a driver process whose stdin, stdout and stderr are pipes, right after spawning it, so no
   * output is missed. Driver stderr lines go to `onLogLine`; call start() before anything else.
   */
  constructor(
    private readonly child: ChildProcess,
    private readonly logger: Logger,
    onLogLine: (line: string) => void,
  ) {
    let markListening: () => void = () => undefined;
    this.listening = new Promise((resolve) => (markListening = resolve));
    child.stdout!.setEncoding('utf8');
    child.stdout!.on(
      'data',
      lineSplitter((line) => this.onMessage(line, markListening)),
    );
    child.stderr!.setEncoding('utf8');
    child.stderr!.on(
      'data',
      lineSplitter((line) => {
        this.stderrTail.push(line);
        if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
        onLogLine(line);
      }),
    );
    // A closed stdin (the driver died) must not crash the runner with an unhandled EPIPE.
    child.stdin!.on('error', (error) => this.logger.debug({ err: error }, 'device driver stdin failed'));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitReason = `the device driver exited (status ${code ?? 'none'}, signal ${signal ?? 'none'})`;
        const tail = this.stderrTail.length > 0 ? `; driver stderr:\n${this.stderrTail.join('\n')}` : '';
        for (const waiter of this.pending.values()) waiter.reject(new Error(`${this.exitReason}${tail}`));
        this.pending.clear();
        resolve();
      });
    });
  }

  get connectedCount(): number {
    return this.connected;
  }

  /** Waits for the driver to load, then creates the fleet in it; throws ExperimentError (connect). */
  async start(spec: FleetSpec, receipts: ReceiptSink, logLevel: string): Promise<void> {
    this.identities = Array.from({ length: spec.count }, (_, index) => deviceIdentity(index));
    this.receipts = receipts;
    const timeout = sleep(DRIVER_START_TIMEOUT_MS).then(() => 'timeout' as const);
    const outcome = await Promise.race([this.listening.then(() => 'listening' as const), this.exited.then(() => 'exited' as const), timeout]);
    if (outcome !== 'listening') {
      const reason = outcome === 'timeout' ? `did not start within ${DRIVER_START_TIMEOUT_MS} ms` : (this.exitReason ?? 'exited');
      throw new ExperimentError('connect', `the device driver ${reason}; driver stderr:\n${this.stderrTail.join('\n')}`);
    }
    await this.request({ type: 'start', id: 0, spec, logLevel }, 'connect', REQUEST_TIMEOUT_MS);
  }

  async connect(indices: readonly number[], concurrency: number, deadline: number): Promise<void> {
    // The driver enforces the deadline itself; the extra time covers its reply.
    const timeoutMs = Math.max(0, deadline - Date.now()) + REQUEST_TIMEOUT_MS;
    await this.request({ type: 'connect', id: 0, indices: [...indices], concurrency, deadline }, 'connect', timeoutMs);
  }

  async summary(): Promise<FleetSummary> {
    const reply = await this.request({ type: 'summary', id: 0 }, 'teardown', REQUEST_TIMEOUT_MS);
    if (!reply.ok || reply.summary === undefined) throw new ExperimentError('teardown', 'the device driver replied to summary without one');
    return reply.summary;
  }

  /** Closes the clients in the driver, then ends its stdin so it exits. */
  async close(graceMs: number): Promise<void> {
    try {
      if (this.exitReason === null) await this.request({ type: 'close', id: 0, graceMs }, 'teardown', graceMs + REQUEST_TIMEOUT_MS);
    } finally {
      this.child.stdin?.end();
    }
  }

  private request(request: DriverRequest, phase: ExperimentPhase, timeoutMs: number): Promise<Reply> {
    if (this.exitReason !== null) return Promise.reject(new ExperimentError(phase, `cannot send ${request.type} to the device driver: ${this.exitReason}`));
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ExperimentError(phase, `the device driver did not reply to ${request.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (reply) => {
          clearTimeout(timer);
          if (reply.ok) resolve(reply);
          else reject(new ExperimentError(reply.phase ?? phase, reply.message));
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(new ExperimentError(phase, error.message, { cause: error }));
        },
      });
      this.child.stdin!.write(`${JSON.stringify({ ...request, id })}\n`);
    });
  }

  private onMessage(line: string, markListening: () => void): void {
    let message: DriverMessage;
    try {
      message = JSON.parse(line) as DriverMessage;
    } catch (error) {
      this.logger.warn({ err: toError(error), line: line.slice(0, 200) }, 'device driver printed a stdout line that is not JSON; ignored');
      return;
    }
    switch (message.type) {
      case 'listening':
        markListening();
        return;
      case 'receipt':
        this.receipts?.receive(message.device, message.messageId, message.publishedAtMs, message.latencyMs);
        return;
      case 'connected':
        this.connected = message.count;
        return;
      case 'reply': {
        const waiter = this.pending.get(message.id);
        this.pending.delete(message.id);
        waiter?.resolve(message);
        return;
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
