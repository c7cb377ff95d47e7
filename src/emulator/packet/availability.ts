// Whether this machine can run the packet-level emulator, and the choice between it and the
// relay backend for callers such as an experiment runner.
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import type { BlackholeDirection, EmulatorStats, ScheduledBlackhole } from '../emulator.js';
import type { LinkProfile } from '../profiles.js';
import { runIp } from './commands.js';
import { PacketEmulatorError } from './errors.js';
import { DEFAULT_NAMESPACE_PREFIX, deleteNamespace, namespacePairNames, netnsPath } from './namespaces.js';
import { loadTunAddon } from './native.js';
import type { PacketEmulatorStats } from './packet-emulator.js';

export type PacketBackendAvailability = { available: true } | { available: false; reason: string };

/** Bits in the CapEff mask of /proc/self/status (linux/capability.h). */
const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;

async function hasCapabilities(): Promise<string | undefined> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  if (line === null) return 'cannot read the effective capabilities from /proc/self/status';
  const mask = BigInt(`0x${line[1]}`);
  const missing = [
    ['CAP_NET_ADMIN', CAP_NET_ADMIN],
    ['CAP_SYS_ADMIN', CAP_SYS_ADMIN],
  ].filter(([, bit]) => (mask & (1n << BigInt(bit))) === 0n).map(([name]) => name);
  return missing.length === 0 ? undefined : `missing ${missing.join(' and ')} (run as root)`;
}

let probeCounter = 0;

/** Creates a throwaway namespace with a TUN device in it and removes both again. */
async function probeNamespaces(): Promise<string | undefined> {
  const addon = loadTunAddon();
  const name = namespacePairNames(DEFAULT_NAMESPACE_PREFIX, `probe${++probeCounter}`).client;
  try {
    await runIp(['netns', 'add', name]);
  } catch (error) {
    return `cannot create a network namespace: ${(error as Error).message}`;
  }
  try {
    const device = addon.openTun('plab0', netnsPath(name));
    addon.closeFd(device.fd);
    return undefined;
  } catch (error) {
    return `cannot create a TUN device in a namespace: ${(error as Error).message}`;
  } finally {
    await deleteNamespace(name).catch(() => undefined);
  }
}

async function checkAvailability(): Promise<PacketBackendAvailability> {
  const unavailable = (reason: string): PacketBackendAvailability => ({ available: false, reason });
  if (process.platform !== 'linux') return unavailable(`needs Linux, this is ${process.platform}`);
  const capabilities = await hasCapabilities();
  if (capabilities !== undefined) return unavailable(capabilities);
  try {
    await access('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch (error) {
    return unavailable(`/dev/net/tun is not accessible: ${(error as Error).message}`);
  }
  try {
    await runIp(['-V']);
  } catch (error) {
    return unavailable(`iproute2 (ip) is not usable: ${(error as Error).message}`);
  }
  try {
    loadTunAddon();
  } catch (error) {
    return unavailable((error as Error).message);
  }
  const probe = await probeNamespaces();
  return probe === undefined ? { available: true } : unavailable(probe);
}

let cached: Promise<PacketBackendAvailability> | undefined;

/**
 * Checks root capabilities, /dev/net/tun, iproute2, the TUN addon and a trial namespace with a
 * TUN device. The result is cached for the process.
 */
export function isPacketBackendAvailable(): Promise<PacketBackendAvailability> {
  cached ??= checkAvailability();
  return cached;
}

export type BackendPreference = 'auto' | 'packet' | 'relay';
export type BackendChoice = { backend: 'packet' } | { backend: 'relay'; reason: string };

/**
 * Picks the emulator backend: 'auto' takes the packet backend when available and otherwise the
 * relay with the reason; 'packet' throws PacketEmulatorError ('unavailable') when unavailable.
 */
export async function selectEmulatorBackend(preference: BackendPreference = 'auto'): Promise<BackendChoice> {
  if (preference === 'relay') return { backend: 'relay', reason: 'relay backend requested' };
  const availability = await isPacketBackendAvailable();
  if (availability.available) return { backend: 'packet' };
  if (preference === 'packet') throw new PacketEmulatorError('unavailable', `packet emulator backend unavailable: ${availability.reason}`);
  return { backend: 'relay', reason: availability.reason };
}

/** Controls both backends share, so a caller can drive either one through the same type. */
export interface LinkEmulatorControl {
  readonly profile: LinkProfile;
  setProfile(profile: LinkProfile | string): void;
  blackhole(direction?: BlackholeDirection): void;
  restore(): void;
  blackholeFor(durationMs: number, direction?: BlackholeDirection): void;
  scheduleBlackholes(windows: readonly ScheduledBlackhole[]): void;
  rebind(): void;
  stats(): EmulatorStats | PacketEmulatorStats;
  describe(): string;
  close(): Promise<void>;
}

