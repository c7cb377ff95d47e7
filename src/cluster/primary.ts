// The primary of a multi-process gateway: forks the workers (which share the listening ports
// through node:cluster), forwards IPC messages between them, and serves the HTTP API, routing
// each publish to the worker that owns the user. /metrics aggregates every worker's registry.
import cluster, { type Worker } from 'node:cluster';
import client from 'prom-client';
import { PushlabError } from '../errors.js';
import { toRoutedMessage } from '../gateway/routed-message.js';
import type { HealthReport, PublishRequest, PublishResult, PublishTarget } from '../gateway/types.js';
import type { Logger } from '../logger.js';
import { ownerIndex } from '../routing/placement.js';
import type { ClusterEnvelope } from './messages.js';
import { WORKER_COUNT_ENV, WORKER_INDEX_ENV } from './messages.js';

const ROUTE_TIMEOUT_MS = 10_000;
const HEALTH_POLL_MS = 1_000;
const READY_TIMEOUT_MS = 30_000;

/** A registry whose exposition is the sum over all workers, so /metrics lists each family once. */
export class ClusterMetricsRegistry extends client.AggregatorRegistry<client.PrometheusContentType> {
  override metrics(): Promise<string> {
    return this.clusterMetrics();
  }
}

export interface ClusterPrimaryOptions {
  workers: number;
  /** Extra environment for the workers (TLS material and auth secret they must share). */
  env: Record<string, string>;
  maxFrameSize: number;
  logger: Logger;
}

interface WorkerState {
  worker: Worker;
  ready: boolean;
  sessions: number;
  listeners: HealthReport['listeners'];
  clientSettings: (Record<string, unknown> | undefined)[];
}

export class ClusterPrimary implements PublishTarget {
  private readonly states: WorkerState[] = [];
  private readonly routes = new Map<number, { resolve(r: PublishResult): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  private nextId = 1;
  private healthTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private readonly startedAt = Date.now();

  private constructor(private readonly options: ClusterPrimaryOptions) {}

  /** Forks the workers and resolves when every one of them listens. */
  static async start(options: ClusterPrimaryOptions): Promise<ClusterPrimary> {
    const primary = new ClusterPrimary(options);
    cluster.setupPrimary({ serialization: 'advanced' });
    const ready = Array.from({ length: options.workers }, (_, index) => primary.fork(index));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PushlabError('INTERNAL', `workers did not become ready within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    });
    try {
      await Promise.race([Promise.all(ready), timeout]);
    } catch (error) {
      await primary.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    primary.healthTimer = setInterval(() => primary.pollHealth(), HEALTH_POLL_MS);
    primary.healthTimer.unref();
    return primary;
  }

  /** Listener addresses as worker 0 reported them; every worker shares the same ports. */
  get listeners(): { transport: string; host: string; port: number; clientSettings?: Record<string, unknown> }[] {
    const first = this.states[0]!;
    return first.listeners.map((listener, i) => ({ ...listener, ...(first.clientSettings[i] ? { clientSettings: first.clientSettings[i] } : {}) }));
  }

  publish(request: PublishRequest): Promise<PublishResult> {
    const message = toRoutedMessage(request, this.options.maxFrameSize, Date.now());
    const owner = ownerIndex(message.userId, this.options.workers);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.routes.delete(id);
        reject(new PushlabError('PUBLISH_REJECTED', `worker ${owner} did not respond within ${ROUTE_TIMEOUT_MS} ms`));
      }, ROUTE_TIMEOUT_MS);
      this.routes.set(id, { resolve, reject, timer });
      this.send(owner, { to: owner, from: 'primary', body: { t: 'route', id, message } });
    });
  }

  health(): HealthReport {
    return {
      status: this.stopping ? 'draining' : 'ok',
      sessions: this.states.reduce((sum, state) => sum + state.sessions, 0),
      listeners: this.states[0]?.listeners ?? [],
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
    };
  }

  /** Asks every worker to stop (SIGTERM) and waits for them to exit. */
  async close(): Promise<void> {
    this.stopping = true;
    if (this.healthTimer) clearInterval(this.healthTimer);
    const exits = this.states.map(
      (state) =>
        new Promise<void>((resolve) => {
          if (state.worker.isDead()) return resolve();
          state.worker.once('exit', () => resolve());
          state.worker.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);
  }

  private fork(index: number): Promise<void> {
    const worker = cluster.fork({ ...this.options.env, [WORKER_INDEX_ENV]: String(index), [WORKER_COUNT_ENV]: String(this.options.workers) });
    const state: WorkerState = { worker, ready: false, sessions: 0, listeners: [], clientSettings: [] };
    this.states[index] = state;
    return new Promise((resolve, reject) => {
      worker.on('message', (message: unknown) => {
        const envelope = message as ClusterEnvelope;
        if (!envelope || typeof envelope !== 'object' || !('body' in envelope)) return;
        if (envelope.body.t === 'ready') {
          state.ready = true;
          state.listeners = envelope.body.listeners;
          state.clientSettings = envelope.body.clientSettings;
          resolve();
          return;
        }
        this.dispatch(index, envelope);
      });
      worker.on('exit', (code, signal) => {
        if (!state.ready) reject(new PushlabError('INTERNAL', `worker ${index} exited during start (code ${code}, signal ${signal})`));
        if (this.stopping) return;
        // NOTE: the sessions and inboxes of the users this worker owned are lost with it; devices
        // reconnect and start new sessions on the replacement.
        this.options.logger.error({ worker: index, code, signal }, 'worker exited; starting a replacement');
        void this.fork(index).catch((error: unknown) => this.options.logger.error({ err: error, worker: index }, 'replacement worker failed to start'));
      });
    });
  }

  private dispatch(from: number, envelope: ClusterEnvelope): void {
    if (envelope.to !== 'primary') {
      this.send(envelope.to, { ...envelope, from });
      return;
    }
    const body = envelope.body;
    if (body.t === 'route-result') {
      const pending = this.routes.get(body.id);
      if (!pending) return;
      this.routes.delete(body.id);
      clearTimeout(pending.timer);
      if (body.result) pending.resolve(body.result);
      else pending.reject(new PushlabError('PUBLISH_REJECTED', body.error?.message ?? 'publish failed in the worker'));
    } else if (body.t === 'health-result') {
      const state = this.states[from];
      if (state) state.sessions = body.sessions;
    }
  }

  private send(index: number, envelope: ClusterEnvelope): void {
    const state = this.states[index];
    if (!state || state.worker.isDead() || !state.worker.isConnected()) {
      this.options.logger.warn({ worker: index, message: envelope.body.t }, 'dropping a message for a worker that is not running');
      return;
    }
    state.worker.send(envelope);
  }

  private pollHealth(): void {
    for (let index = 0; index < this.states.length; index += 1) {
      this.send(index, { to: index, from: 'primary', body: { t: 'health', id: this.nextId++ } });
    }
  }
}
