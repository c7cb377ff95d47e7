// The packet-level link backend: each cell gets a PacketLinkEmulator, that is, a client and a
// gateway network namespace joined by TUN devices through the runner. The gateway process runs in
// the gateway namespace and binds its listeners to the namespace's link address (198.18.1.1) and
// its HTTP API to the namespace's loopback. The devices run in a device driver process in the
// client namespace (198.18.0.1), so all their traffic crosses the emulated link and kernel TCP
// has to recover from real packet loss. The runner reaches the HTTP API through a Unix socket bridged into the
// gateway namespace (http-bridge.ts). Every process and both namespaces go away in close().
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupStale, PacketLinkEmulator, selectEmulatorBackend, type PacketEmulatorStats } from '../emulator/packet/index.js';
import { toError } from '../errors.js';
import { lineSplitter } from './driver-protocol.js';
import { ExperimentError } from './errors.js';
import { unixHttpTarget } from './http-target.js';
import { readNamespaceTcpCounters } from './kernel-tcp.js';
import { relayBackend, type EmulatedLink, type LinkBackend, type LinkReport } from './link-backend.js';
import { RemoteFleet } from './remote-fleet.js';
import type { BackendPreference } from './scenario.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** `--import tsx` resolves tsx from the working directory, so helpers start in the checkout. */
const REPO_ROOT = path.resolve(HERE, '../..');
const DEVICE_DRIVER = path.join(HERE, 'device-driver.ts');
const HTTP_BRIDGE = path.join(HERE, 'http-bridge.ts');
/** Any port is free in a fresh namespace, so the API gets a fixed one and the bridge can start early. */
const GATEWAY_HTTP_PORT = 8080;
const BRIDGE_START_TIMEOUT_MS = 30_000;

export const PACKET_LOSS_MODEL = 'packet-level: loss drops IP packets, and kernel TCP recovers with its own retransmissions';

let linkCounter = 0;

export const packetBackend: LinkBackend = {
  name: 'packet',
  async open(options) {
    const label = `x${++linkCounter}`;
    const emulator = await PacketLinkEmulator.start({ profile: options.profile, seed: options.seed, logger: options.logger, label });
    try {
      // Both helpers load Node and tsx while the gateway starts, which saves a second or two per cell.
      const socketPath = path.join(options.workDir, `http-${label}.sock`);
      const spawnOptions = { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] as ('pipe' | 'ignore')[] };
      const bridge = emulator.spawnNode('gateway', HTTP_BRIDGE, [socketPath, '127.0.0.1', String(GATEWAY_HTTP_PORT)], spawnOptions);
      const bridgeReady = waitForListening(bridge, options.onHelperLog);
      bridgeReady.catch(() => undefined);
      const driver = emulator.spawnNode('client', DEVICE_DRIVER, [], spawnOptions);
      const fleet = new RemoteFleet(driver, options.logger, (line) => options.onHelperLog(`devices ${line}`));
      return new PacketLink(emulator, bridge, bridgeReady, socketPath, fleet, options.logLevel);
    } catch (error) {
      await emulator.close();
      throw error;
    }
  },
};

class PacketLink implements EmulatedLink {
  readonly backend = 'packet';
  readonly gatewayHost: string;
  readonly gatewayHttp = { host: '127.0.0.1', port: GATEWAY_HTTP_PORT };

  constructor(
    private readonly emulator: PacketLinkEmulator,
    private readonly bridge: ChildProcess,
    private readonly bridgeReady: Promise<void>,
    private readonly socketPath: string,
    private readonly fleet: RemoteFleet,
    private readonly logLevel: string,
  ) {
    this.gatewayHost = emulator.gatewayAddress;
  }

  spawnGateway: EmulatedLink['spawnGateway'] = (command, args, options) => this.emulator.spawnInGateway(command, args, options);

  async connectHttp(address: { host: string; port: number }): ReturnType<EmulatedLink['connectHttp']> {
    if (address.port !== GATEWAY_HTTP_PORT) {
      throw new ExperimentError('gateway-start', `the gateway's HTTP API listens on port ${address.port}, but the bridge forwards to ${GATEWAY_HTTP_PORT}`);
    }
    await this.bridgeReady;
    return unixHttpTarget(this.socketPath);
  }

  attach(target: { host: string; port: number }): Promise<{ host: string; port: number }> {
    // Devices dial the gateway's own address across the TUN link; there is no relay in between.
    return Promise.resolve({ host: this.emulator.gatewayAddress, port: target.port });
  }

  async startFleet(options: Parameters<EmulatedLink['startFleet']>[0]): ReturnType<EmulatedLink['startFleet']> {
    await this.fleet.start(options.spec, options.receipts, this.logLevel);
    return this.fleet;
  }

  blackholeFor: EmulatedLink['blackholeFor'] = (durationMs, direction) => this.emulator.blackholeFor(durationMs, direction);

  rebind(): string | null {
    this.emulator.rebind();
    return null;
  }

  async tcpCounters(): ReturnType<EmulatedLink['tcpCounters']> {
    const [gateway, client] = await Promise.all([readNamespaceTcpCounters(this.emulator.gatewayNamespace), readNamespaceTcpCounters(this.emulator.clientNamespace)]);
    return { gateway, client };
  }

  describe(): string {
    return this.emulator.describe();
  }

  stats(): LinkReport {
    const counters: PacketEmulatorStats = this.emulator.stats();
    return { backend: 'packet', description: this.emulator.describe(), lossModel: PACKET_LOSS_MODEL, counters };
  }

  /** Stops the helpers and removes both namespaces with every process still inside. */
  async close(): Promise<void> {
    this.bridge.stdin?.end();
    await this.emulator.close();
  }
}

/** Resolves when the bridge prints its listening line; rejects when it exits or times out first. */
function waitForListening(child: ChildProcess, onLog: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const tail: string[] = [];
    child.stderr!.setEncoding('utf8');
    child.stderr!.on(
      'data',
      lineSplitter((line) => {
        tail.push(line);
        onLog(`http-bridge ${line}`);
      }),
    );
    child.stdin!.on('error', () => undefined);
    const timer = setTimeout(() => reject(new ExperimentError('gateway-start', `the HTTP bridge did not start within ${BRIDGE_START_TIMEOUT_MS} ms`)), BRIDGE_START_TIMEOUT_MS);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on(
      'data',
      lineSplitter((line) => {
        if (line.includes('"listening"')) {
          clearTimeout(timer);
          resolve();
        }
      }),
    );
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new ExperimentError('gateway-start', `the HTTP bridge exited (status ${code ?? 'none'}, signal ${signal ?? 'none'}): ${tail.join('\n')}`));
    });
  });
}

export interface BackendSelection {
  backend: LinkBackend;
  /** Reason the relay runs although 'auto' was requested; null otherwise. */
  fallbackReason: string | null;
  /** Namespaces of earlier runs that were killed before they could remove them, now removed. */
  staleNamespacesRemoved: string[];
}

/**
 * Picks the link backend for a requested preference. 'auto' takes the packet backend when this
 * machine can run it (root, /dev/net/tun, the TUN addon) and otherwise the relay, with the reason.
 * 'packet' throws ExperimentError (phase link-start) with the reason when it is unavailable.
 * Before a packet run it removes namespaces that earlier, killed runs left behind (cleanupStale
 * touches only names of the form plab-<pid>-… whose pid is gone).
 */
export async function selectLinkBackend(preference: BackendPreference): Promise<BackendSelection> {
  let choice;
  try {
    choice = await selectEmulatorBackend(preference);
  } catch (error) {
    throw new ExperimentError('link-start', `the scenario requests backend "packet", which is unavailable here: ${toError(error).message}`, { cause: error });
  }
  if (choice.backend === 'packet') return { backend: packetBackend, fallbackReason: null, staleNamespacesRemoved: await cleanupStale() };
  return { backend: relayBackend, fallbackReason: preference === 'auto' ? choice.reason : null, staleNamespacesRemoved: [] };
}
