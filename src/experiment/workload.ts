// The publish workload: POST /v1/publish at a fixed rate across the fleet, each message to one
// seeded-random device, with a seeded share of high priority. Messages carry ids chosen here, so
// the ledger can match every receipt to its publish.
import type { Logger } from '../logger.js';
import { seededRandom } from '../random.js';
import type { DeliveryLedger } from './delivery-ledger.js';
import type { DeviceIdentity } from './fleet.js';
import type { HttpTarget } from './http-target.js';

export interface WorkloadOptions {
  /** The gateway's HTTP API. */
  http: HttpTarget;
  devices: readonly DeviceIdentity[];
  ratePerSec: number;
  highPriorityShare: number;
  payloadBytes: number;
  durationMs: number;
  seed: number;
  /** Prefix of the message ids, unique per run. */
  idPrefix: string;
  ledger: DeliveryLedger;
  logger: Logger;
}

export interface WorkloadResult {
  attempted: number;
  highPriority: number;
  /** Publishes that waited because maxInFlight requests were already open. */
  delayedByInFlightLimit: number;
  elapsedMs: number;
}

/** Requests open at once; beyond it publishes wait, so a stalled API cannot pile up sockets. */
const MAX_IN_FLIGHT = 64;
const TICK_MS = 10;
const REQUEST_TIMEOUT_MS = 10_000;
/** Failed publishes logged individually; later ones are only counted. */
const LOGGED_FAILURES = 5;

export class PublishWorkload {
  private readonly random;
  private readonly payloadBase64: string;
  private inFlight = 0;
  private failuresLogged = 0;

  constructor(private readonly options: WorkloadOptions) {
    this.random = seededRandom(options.seed);
    const payload = Buffer.alloc(options.payloadBytes);
    for (let i = 0; i < payload.length; i++) payload[i] = Math.floor(this.random() * 256);
    this.payloadBase64 = payload.toString('base64');
  }

  /**
   * Publishes for `durationMs`, then waits for the requests still open. `onProgress` runs on every
   * tick with the time since start.
   */
  async run(onProgress?: (elapsedMs: number) => void): Promise<WorkloadResult> {
    const { ratePerSec, durationMs } = this.options;
    const startedAt = Date.now();
    const pending = new Set<Promise<void>>();
    const result: WorkloadResult = { attempted: 0, highPriority: 0, delayedByInFlightLimit: 0, elapsedMs: 0 };

    for (let elapsed = 0; elapsed < durationMs; elapsed = Date.now() - startedAt) {
      // Publish 1 is due at time 0, publish k at (k - 1) / rate seconds.
      const due = Math.min(Math.floor((elapsed * ratePerSec) / 1000) + 1, Math.ceil((durationMs * ratePerSec) / 1000));
      while (result.attempted < due) {
        if (this.inFlight >= MAX_IN_FLIGHT) {
          result.delayedByInFlightLimit += 1;
          break;
        }
        const high = this.random() < this.options.highPriorityShare;
        const device = Math.floor(this.random() * this.options.devices.length);
        const messageId = `${this.options.idPrefix}-${result.attempted + 1}`;
        result.attempted += 1;
        if (high) result.highPriority += 1;
        const request = this.publish(device, messageId, high).finally(() => pending.delete(request));
        pending.add(request);
      }
      onProgress?.(elapsed);
      await sleep(TICK_MS);
    }
    await Promise.all(pending);
    result.elapsedMs = Date.now() - startedAt;
    return result;
  }

  private async publish(device: number, messageId: string, high: boolean): Promise<void> {
    const identity = this.options.devices[device]!;
    const body = JSON.stringify({ ...identity, messageId, priority: high ? 'high' : 'normal', payloadBase64: this.payloadBase64 });
    this.inFlight += 1;
    try {
      const response = await this.options.http.request('POST', '/v1/publish', body, REQUEST_TIMEOUT_MS);
      const text = response.text;
      if (response.status !== 200) {
        this.recordFailure(messageId, `HTTP ${response.status}: ${text.slice(0, 200)}`);
        return;
      }
      this.options.ledger.confirm(device, messageId);
    } catch (error) {
      this.recordFailure(messageId, (error as Error).message);
    } finally {
      this.inFlight -= 1;
    }
  }

  private recordFailure(messageId: string, reason: string): void {
    this.options.ledger.fail();
    if (this.failuresLogged < LOGGED_FAILURES) {
      this.failuresLogged += 1;
      this.options.logger.warn({ messageId, reason }, 'publish failed');
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
