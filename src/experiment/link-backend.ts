// The seam between the experiment runner and whatever emulates the access link. A link is opened
// before the gateway starts, because a packet-level link (network namespaces and TUN devices) must
// exist first so the gateway can run inside it. The runner then starts the gateway through the
// link, attaches the link to the gateway's listener, and gives devices the address to dial.
// The relay backend wraps the userspace LinkEmulator and runs everything on loopback.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { LinkEmulator, type BlackholeDirection, type EmulatorStats } from '../emulator/index.js';
import type { LinkProfile } from '../emulator/index.js';
import { ExperimentError } from './errors.js';

export interface LinkOpenOptions {
  /** The IP protocol the transport uses; it picks the relay (or packet filter) that applies. */
  protocol: 'tcp' | 'udp';
  profile: LinkProfile;
  /** Seed of the link's loss and jitter draws. */
  seed: number;
  logger: Logger;
}

/** One emulated link between the devices and one gateway. */
export interface EmulatedLink {
  /** Address the gateway's listeners bind to. */
  readonly gatewayHost: string;
  /** Starts a process on the gateway's side of the link. */
  spawnGateway(command: string, args: readonly string[], options: SpawnOptions): ChildProcess;
  /** Leads the link to the gateway's listener; returns the address devices dial. Call once. */
  attach(target: { host: string; port: number }): Promise<{ host: string; port: number }>;
  /** Silently drops traffic in `direction` now and restores it after `durationMs`. */
  blackholeFor(durationMs: number, direction: BlackholeDirection): void;
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

export interface LinkBackend {
  readonly name: string;
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
      gatewayHost: '127.0.0.1',
      spawnGateway: (command, args, spawnOptions) => spawn(command, args, spawnOptions),
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
      blackholeFor: (durationMs, direction) => started().blackholeFor(durationMs, direction),
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

const BACKENDS: ReadonlyMap<string, LinkBackend> = new Map([[relayBackend.name, relayBackend]]);

export function linkBackendNames(): string[] {
  return [...BACKENDS.keys()];
}

/** Looks up a backend by name; throws ConfigError listing the valid names for an unknown one. */
export function getLinkBackend(name: string): LinkBackend {
  const backend = BACKENDS.get(name);
  if (backend === undefined) {
    throw new ConfigError(`unknown link backend ${JSON.stringify(name)}; available: ${linkBackendNames().join(', ')}`);
  }
  return backend;
}
