// The two namespaces and TUN devices of one packet emulator, with their addresses:
//
//   client namespace                  emulator process                  gateway namespace
//   198.18.0.1 on plab0  --read-->  up LinkDirection   --write-->  plab0 with 198.18.1.1
//              plab0     <--write-- down LinkDirection <--read---  plab0
//
// Each device is created directly inside its namespace (see native/tun), so nothing is ever
// added to the caller's namespace. The addresses come from 198.18.0.0/15, which RFC 2544
// reserves for benchmarking, and exist only inside these namespaces. Each side has one route: the
// point-to-point route to the other side's /32.
import type { Logger } from '../../logger.js';
import { runIp } from './commands.js';
import { PacketEmulatorError } from './errors.js';
import { trackNamespaces, untrackNamespaces } from './exit-cleanup.js';
import { parseIpv4Address } from './ipv4.js';
import { deleteNamespace, netnsPath, prepareNamespace, type NamespacePairNames } from './namespaces.js';
import type { TunAddon, TunDevice } from './native.js';

export const DEFAULT_CLIENT_ADDRESS = '198.18.0.1';
export const DEFAULT_GATEWAY_ADDRESS = '198.18.1.1';
/** Device name inside both namespaces; names only need to be unique within one namespace. */
export const TUN_DEVICE_NAME = 'plab0';

/** 198.18.0.0/15 (RFC 2544 section C.2.2). */
const BENCHMARK_NETWORK = 0xc6120000;
const BENCHMARK_MASK = 0xfffe0000;

export interface TopologySide {
  namespace: string;
  address: string;
  device: TunDevice;
}

export interface Topology {
  client: TopologySide;
  gateway: TopologySide;
}

/** Throws PacketEmulatorError unless both addresses are distinct and inside 198.18.0.0/15. */
export function validateAddresses(clientAddress: string, gatewayAddress: string): void {
  for (const [name, text] of [['clientAddress', clientAddress], ['gatewayAddress', gatewayAddress]] as const) {
    const value = parseIpv4Address(text);
    if (value === undefined || ((value & BENCHMARK_MASK) >>> 0) !== BENCHMARK_NETWORK) {
      throw new PacketEmulatorError('setup-failed', `${name} must be an IPv4 address in 198.18.0.0/15 (the RFC 2544 benchmarking range), got ${JSON.stringify(text)}`);
    }
  }
  if (parseIpv4Address(clientAddress) === parseIpv4Address(gatewayAddress)) {
    throw new PacketEmulatorError('setup-failed', `clientAddress and gatewayAddress must differ, both are ${clientAddress}`);
  }
}

async function configureSide(side: TopologySide, peerAddress: string): Promise<void> {
  // "local peer PEER" makes a point-to-point address; the kernel adds the /32 route to the peer.
  await runIp(['-n', side.namespace, 'addr', 'add', `${side.address}/32`, 'peer', `${peerAddress}/32`, 'dev', side.device.name]);
  await runIp(['-n', side.namespace, 'link', 'set', side.device.name, 'up']);
}

/**
 * Creates both namespaces and TUN devices and configures the addresses. On failure it removes
 * everything it created (never a namespace that existed before) and throws PacketEmulatorError
 * (kind 'setup-failed').
 */
export async function createTopology(addon: TunAddon, names: NamespacePairNames, clientAddress: string, gatewayAddress: string, logger: Logger): Promise<Topology> {
  validateAddresses(clientAddress, gatewayAddress);
  const createdNamespaces: string[] = [];
  const openedDevices: TunDevice[] = [];
  try {
    for (const namespace of [names.client, names.gateway]) {
      await runIp(['netns', 'add', namespace]).catch((error: unknown) => {
        throw new PacketEmulatorError('setup-failed', `creating namespace ${namespace} failed`, { cause: error });
      });
      createdNamespaces.push(namespace);
      trackNamespaces([namespace]);
      await prepareNamespace(namespace, logger);
    }
    const open = (namespace: string): TunDevice => {
      const device = addon.openTun(TUN_DEVICE_NAME, netnsPath(namespace));
      openedDevices.push(device);
      return device;
    };
    const topology: Topology = {
      client: { namespace: names.client, address: clientAddress, device: open(names.client) },
      gateway: { namespace: names.gateway, address: gatewayAddress, device: open(names.gateway) },
    };
    await configureSide(topology.client, gatewayAddress);
    await configureSide(topology.gateway, clientAddress);
    return topology;
  } catch (error) {
    await removeAll(addon, openedDevices, createdNamespaces, logger);
    if (error instanceof PacketEmulatorError && error.kind === 'setup-failed') throw error;
    throw new PacketEmulatorError('setup-failed', `setting up namespaces ${names.client} and ${names.gateway} failed: ${(error as Error).message}`, { cause: error });
  }
}

/** Closes both TUN devices and removes both namespaces with every process left inside. */
export async function destroyTopology(addon: TunAddon, topology: Topology, logger: Logger): Promise<void> {
  await removeAll(addon, [topology.client.device, topology.gateway.device], [topology.client.namespace, topology.gateway.namespace], logger);
}

async function removeAll(addon: TunAddon, devices: readonly TunDevice[], namespaces: readonly string[], logger: Logger): Promise<void> {
  for (const device of devices) {
    try {
      addon.closeFd(device.fd);
    } catch (error) {
      logger.error({ err: error, fd: device.fd }, 'closing a TUN descriptor failed');
    }
  }
  for (const namespace of namespaces) {
    try {
      await deleteNamespace(namespace);
      untrackNamespaces([namespace]);
    } catch (error) {
      // Left tracked: the exit handler tries again, and cleanupStale() after a crash.
      logger.error({ err: error, namespace }, 'removing a namespace failed');
    }
  }
}

