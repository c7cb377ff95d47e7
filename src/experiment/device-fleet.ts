// The simulated devices of one cell: PushClients in this process, each with its own user, token and
// seeded back-off, dialing the gateway through the emulated link. The fleet reports every
// application-level receipt to its ReceiptSink and keeps per-device connection time. It runs in
// the runner (relay backend) or in the device driver inside the client namespace (packet backend).
import { PushClient } from '../client/client.js';
import { HmacTokenAuthority } from '../gateway/auth.js';
import { seededRandom } from '../random.js';
import { ExperimentError } from './errors.js';
import { deviceIdentity, type DeviceIdentity, type Fleet, type FleetSummary, type LocalFleetOptions } from './fleet.js';
import { addCounters, CountingTransport } from './transport-counters.js';

interface Device {
  identity: DeviceIdentity;
  client: PushClient;
  transport: CountingTransport;
  connectedSince: number | null;
  connectedMs: number;
}

export class DeviceFleet implements Fleet {
  private readonly devices: Device[] = [];
  private readonly warnings: Record<string, number> = {};
  private readonly authority: HmacTokenAuthority;
  private lastWarning = '';
  /** Runs whenever a device's connection state changes, with the number connected. */
  onConnectedChange: ((connected: number) => void) | null = null;

  constructor(private readonly options: LocalFleetOptions) {
    this.authority = new HmacTokenAuthority(options.secret);
    for (let index = 0; index < options.count; index++) this.devices.push(this.createDevice(index));
  }

  get identities(): DeviceIdentity[] {
    return this.devices.map((device) => device.identity);
  }

  get connectedCount(): number {
    let connected = 0;
    for (const device of this.devices) if (device.client.state.kind === 'connected') connected += 1;
    return connected;
  }

  /**
   * Connects the devices at `indices`, at most `concurrency` dialing at once. Throws ExperimentError
   * (phase connect) when they are not all connected by `deadline` (epoch ms); the devices keep
   * trying in the background until close().
   */
  async connect(indices: readonly number[], concurrency: number, deadline: number): Promise<void> {
    const queue = [...indices];
    let connected = 0;
    const worker = async (): Promise<void> => {
      for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
        await this.devices[index]!.client.connect();
        connected += 1;
      }
    };
    const workers = Array.from({ length: Math.min(concurrency, indices.length) }, () => worker());
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()));
    });
    try {
      const outcome = await Promise.race([Promise.all(workers).then(() => 'done' as const), timeout]);
      if (outcome === 'timeout') {
        const detail = this.lastWarning ? `; last client warning: ${this.lastWarning}` : '';
        throw new ExperimentError('connect', `${connected} of ${indices.length} devices connected before the connect deadline${detail}`);
      }
    } catch (error) {
      if (error instanceof ExperimentError) throw error;
      throw new ExperimentError('connect', `a device stopped for good while connecting: ${(error as Error).message}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  summary(): Promise<FleetSummary> {
    return Promise.resolve(this.summaryNow());
  }

  summaryNow(): FleetSummary {
    const now = Date.now();
    const summary: FleetSummary = {
      devices: this.devices.length,
      connected: this.connectedCount,
      initialConnectMs: [],
      reconnectConnectMs: [],
      reconnects: 0,
      failedAttempts: 0,
      heartbeatTimeouts: 0,
      gaps: 0,
      heartbeatBytes: 0,
      connectedMs: 0,
      transportDuplicatesFiltered: 0,
      warnings: { ...this.warnings },
      transport: addCounters(this.devices.map((device) => device.transport.totals())),
    };
    for (const device of this.devices) {
      const stats = device.client.stats;
      const [first, ...later] = stats.connectTimesMs;
      if (first !== undefined) summary.initialConnectMs.push(first);
      summary.reconnectConnectMs.push(...later);
      summary.reconnects += stats.reconnects;
      summary.failedAttempts += stats.failedAttempts;
      summary.heartbeatTimeouts += stats.heartbeatTimeouts;
      summary.gaps += stats.gaps;
      summary.heartbeatBytes += stats.heartbeatBytes;
      summary.transportDuplicatesFiltered += stats.duplicatesReceived;
      summary.connectedMs += device.connectedMs + (device.connectedSince === null ? 0 : now - device.connectedSince);
    }
    return summary;
  }

  /** Closes every client with NORMAL, then waits `graceMs` for the close frames to cross the link. */
  async close(graceMs: number): Promise<void> {
    for (const device of this.devices) {
      device.client.close();
      device.transport.stop();
    }
    await new Promise((resolve) => setTimeout(resolve, graceMs));
  }

  private createDevice(index: number): Device {
    const options = this.options;
    const identity = deviceIdentity(index);
    const transport = new CountingTransport(options.registry.create(options.transport));
    const client = new PushClient({
      transport,
      host: options.dialAddress.host,
      port: options.dialAddress.port,
      tls: options.tls,
      ...(options.transportSettings === undefined ? {} : { transportSettings: options.transportSettings }),
      userId: identity.userId,
      deviceId: identity.deviceId,
      token: this.authority.issue({ ...identity, ttlMs: options.tokenTtlMs }),
      connectTimeoutMs: options.client.attemptTimeoutMs,
      backoff: { initialMs: options.client.backoffInitialMs, maxMs: options.client.backoffMaxMs },
      random: seededRandom((options.seed + index) >>> 0),
      logger: options.logger,
    });
    const device: Device = { identity, client, transport, connectedSince: null, connectedMs: 0 };

    client.on('state', (next, previous) => {
      const now = Date.now();
      if (previous.kind === 'connected' && device.connectedSince !== null) {
        device.connectedMs += now - device.connectedSince;
        device.connectedSince = null;
      }
      if (next.kind === 'connected') device.connectedSince = now;
      if (next.kind === 'connected' || previous.kind === 'connected') this.onConnectedChange?.(this.connectedCount);
    });
    client.on('message', (message) => {
      // Both clocks are this machine's wall clock: the gateway stamps publishedAtMs with Date.now().
      options.receipts.receive(index, message.messageId, message.publishedAtMs, Date.now() - message.publishedAtMs);
    });
    client.on('warning', (error) => {
      this.warnings[error.code] = (this.warnings[error.code] ?? 0) + 1;
      this.lastWarning = error.message;
      options.logger.debug({ device: index, err: error }, 'client warning');
    });
    return device;
  }
}
