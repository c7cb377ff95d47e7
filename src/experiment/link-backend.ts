// The seam between the experiment runner and whatever emulates the access link. A link is opened
// before the gateway starts, because a packet-level link (network namespaces and TUN devices) must
// exist first so the gateway can run inside it. The runner then starts the gateway through the
// link, reaches its HTTP API through the link, attaches the link to the gateway's listener and
// starts the devices on the link's client side.
// The relay backend wraps the userspace LinkEmulator and runs everything on loopback in the
// runner's namespace. packet-backend.ts runs the gateway and devices in namespaces of their own.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type { Logger } from '../logger.js';
import { EmulatorError, LinkEmulator, type BlackholeDirection, type EmulatorStats } from '../emulator/index.js';
import type { LinkProfile } from '../emulator/index.js';
import type { TransportRegistry } from '../transport/registry.js';
import { DeviceFleet } from './device-fleet.js';
import { ExperimentError } from './errors.js';
import type { Fleet, FleetSpec, ReceiptSink } from './fleet.js';
import { tcpHttpTarget, type HttpTarget } from './http-target.js';
import type { KernelTcpCounters } from './kernel-tcp.js';

export interface LinkOpenOptions {
  /** The IP protocol the transport uses; it picks the relay (or packet filter) that applies. */
  protocol: 'tcp' | 'udp';
  profile: LinkProfile;
  /** Seed of the link's loss and jitter draws. */
  seed: number;
  /** Directory of the run's temporary files (the packet backend puts its HTTP socket there). */
  workDir: string;
  /** Log level of helper processes (device driver). */
  logLevel: string;
  /** Receives each stderr line of helper processes, prefixed with the helper's name. */
  onHelperLog: (line: string) => void;
  logger: Logger;
}

export interface FleetStartOptions {
  spec: FleetSpec;
  registry: TransportRegistry;
  receipts: ReceiptSink;
  logger: Logger;
}

/** Kernel TCP counters of both ends of a link. */
export interface LinkTcpCounters {
  gateway: KernelTcpCounters;
  client: KernelTcpCounters;
}

/** One emulated link between the devices and one gateway. */
export interface EmulatedLink {
  readonly backend: BackendName;
  /** Address the gateway's listeners bind to. */
  readonly gatewayHost: string;
  /** Address the gateway's HTTP API binds to (port 0: any free port). */
  readonly gatewayHttp: { host: string; port: number };
  /** Starts a process on the gateway's side of the link. */
  spawnGateway(command: string, args: readonly string[], options: SpawnOptions): ChildProcess;
  /** Returns how the runner reaches the gateway's HTTP API, which listens at `address`. */
  connectHttp(address: { host: string; port: number }): Promise<HttpTarget>;
  /** Leads the link to the gateway's listener; returns the address devices dial. Call once. */
  attach(target: { host: string; port: number }): Promise<{ host: string; port: number }>;
  /** Starts the devices on the client side of the link (not connected yet). */
  startFleet(options: FleetStartOptions): Promise<Fleet>;
  /** Silently drops traffic in `direction` now and restores it after `durationMs`. */
  blackholeFor(durationMs: number, direction: BlackholeDirection): void;
  /** Retires every NAT mapping, as after an address change. Returns null, or why it could not. */
  rebind(): string | null;
  /** Kernel TCP counters of both ends; null when the ends share the runner's namespace. */
  tcpCounters(): Promise<LinkTcpCounters | null>;
  /** One line naming the backend, protocol, profile and how loss is emulated. */
  describe(): string;
  /** Counters for the report (JSON-serialisable); null before attach(). */
  stats(): LinkReport | null;
  close(): Promise<void>;
}

/** The report's record of a link. */
export interface LinkReport {
  backend: string;
  description: string;
  /** Statement of how loss is emulated for this protocol, so readers do not over-read loss results. */
  lossModel: string;
  counters: unknown;
}

export type BackendName = 'relay' | 'packet';

export interface LinkBackend {
  readonly name: BackendName;
  open(options: LinkOpenOptions): Promise<EmulatedLink>;
}

/**
 * The userspace relay: no privileges needed, and the gateway and devices run on loopback as
 * ordinary processes. TCP loss is emulated as delay (see docs/EMULATOR.md).
 */
export const relayBackend: LinkBackend = {
  name: 'relay',
  async open(options) {
    let emulator: LinkEmulator | null = null;
    const started = (): LinkEmulator => {
      if (emulator === null) throw new ExperimentError('link-start', 'the relay link was used before attach()');
      return emulator;
    };
    return {
      backend: 'relay',
      gatewayHost: '127.0.0.1',
      gatewayHttp: { host: '127.0.0.1', port: 0 },
      spawnGateway: (command, args, spawnOptions) => spawn(command, args, spawnOptions),
      connectHttp: (address) => Promise.resolve(tcpHttpTarget(address.host, address.port)),
      async attach(target) {
        emulator = await LinkEmulator.start({
          protocol: options.protocol,
          targetHost: target.host,
          targetPort: target.port,
          profile: options.profile,
          seed: options.seed,
          logger: options.logger,
        });
        return emulator.address;
      },
      startFleet: (fleet) => Promise.resolve(new DeviceFleet({ ...fleet.spec, registry: fleet.registry, receipts: fleet.receipts, logger: fleet.logger })),
      blackholeFor: (durationMs, direction) => started().blackholeFor(durationMs, direction),
      rebind: () => {
        try {
          started().rebind();
          return null;
        } catch (error) {
          // The TCP relay cannot move a connection to a new source port (EmulatorError 'unsupported').
          if (error instanceof EmulatorError) return `${error.message}; the packet backend emulates a TCP rebind (the connection dies and the session resumes)`;
          throw error;
        }
      },
      tcpCounters: () => Promise.resolve(null),
      describe: () => emulator?.describe() ?? `relay link emulator (${options.protocol}), profile ${options.profile.name}, not attached yet`,
      stats: () => emulator && relayReport(emulator.describe(), emulator.stats()),
      close: async () => {
        await emulator?.close();
      },
    };
  },
};

function relayReport(description: string, stats: EmulatorStats): LinkReport {
  const { backend, tcpLossModel, ...counters } = stats;
  return { backend, description, lossModel: tcpLossModel, counters };
}
