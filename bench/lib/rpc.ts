// Request/response over the Node IPC channel between the bench process and its children. The
// children run the servers under test, so their CPU time and memory are measured apart from the
// load generator. Every request has a timeout, and every child is killed when the bench process
// exits, fails or is interrupted.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** Command name → [argument, result]. */
export type CommandMap = Record<string, [unknown, unknown]>;

interface RequestMessage {
  id: number;
  command: string;
  args: unknown;
}

interface ResponseMessage {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

const liveChildren = new Set<ChildProcess>();
let cleanupInstalled = false;

function killAllChildren(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
  liveChildren.clear();
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', killAllChildren);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killAllChildren();
      process.exit(130);
    });
  }
}

export class ChildError extends Error {
  override readonly name = 'ChildError';
}

export class BenchChild<M extends CommandMap> {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void; timer: NodeJS.Timeout }>();
  private exited: Error | null = null;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (message: ResponseMessage) => this.onResponse(message));
    child.on('exit', (code, signal) => {
      liveChildren.delete(child);
      this.exited = new ChildError(`${name} child exited (code ${code}, signal ${signal})`);
      if (process.env.PUSHLAB_BENCH_DEBUG) console.error(this.exited.message);
      for (const entry of this.waiting.values()) {
        clearTimeout(entry.timer);
        entry.reject(this.exited);
      }
      this.waiting.clear();
    });
  }

  /**
   * Forks `script` under tsx with --expose-gc, so the child can force collections before memory
   * samples. With PUSHLAB_BENCH_CPU_PROFILE=DIR set, the child also writes a V8 CPU profile to DIR.
   */
  static spawn<M extends CommandMap>(name: string, script: string): BenchChild<M> {
    installCleanup();
    const profileDir = process.env.PUSHLAB_BENCH_CPU_PROFILE;
    const execArgv = ['--import', 'tsx', '--expose-gc'];
    // One directory per child, because V8 writes one profile per thread (tsx runs a loader thread).
    if (profileDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, `${name}-${Date.now()}`)}`);
    const child = fork(script, [], {
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    liveChildren.add(child);
    return new BenchChild<M>(name, child);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  request<K extends keyof M & string>(command: K, args: M[K][0], timeoutMs = 60_000): Promise<M[K][1]> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new ChildError(`${this.name} child did not respond to "${command}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      const message: RequestMessage = { id, command, args };
      this.child.send(message);
    });
  }

  /** Asks the child to exit and kills it if it is still running after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  private onResponse(message: ResponseMessage): void {
    const entry = this.waiting.get(message.id);
    if (!entry) return;
    this.waiting.delete(message.id);
    clearTimeout(entry.timer);
    if (message.ok) entry.resolve(message.result);
    else entry.reject(new ChildError(`${this.name} child failed: ${message.error}`));
  }
}

export type CommandHandlers<M extends CommandMap> = { [K in keyof M]: (args: M[K][0]) => M[K][1] | Promise<M[K][1]> };

/**
 * Runs in a child: responds to the parent's requests with `handlers` and exits when the IPC channel
 * closes, which happens when the parent calls stop() or dies.
 */
export function serveCommands<M extends CommandMap>(handlers: CommandHandlers<M>, onExit: () => Promise<void> | void = () => {}): void {
  if (!process.send) throw new ChildError('this script is a bench child; start it through the bench runner, not directly');
  const send = process.send.bind(process);
  process.on('message', (message: RequestMessage) => {
    const handler = handlers[message.command as keyof M];
    const reply = (response: Omit<ResponseMessage, 'id'>): void => {
      if (process.connected) send({ id: message.id, ...response });
    };
    if (!handler) {
      reply({ ok: false, error: `unknown command "${message.command}"` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.args as never))
      .then(
        (result) => reply({ ok: true, result }),
        (error: unknown) => reply({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
  });
  process.on('disconnect', () => {
    // Whatever the cleanup does, the child must not outlive the bench process by more than a moment.
    setTimeout(() => process.exit(0), 3_000).unref();
    Promise.resolve()
      .then(onExit)
      .finally(() => process.exit(0));
  });
}
