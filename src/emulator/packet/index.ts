// Public entry point of the packet-level link emulator.
export { isPacketBackendAvailable, selectEmulatorBackend } from './availability.js';
export type { BackendChoice, BackendPreference, LinkEmulatorControl, PacketBackendAvailability } from './availability.js';
export { PacketEmulatorError } from './errors.js';
export type { PacketEmulatorFailureKind } from './errors.js';
export { cleanupStale, DEFAULT_NAMESPACE_PREFIX, listNamespaces, namespacePairNames } from './namespaces.js';
export type { NamespacePairNames } from './namespaces.js';
export { TUN_ADDON_BUILD_COMMAND, tunAddonPath } from './native.js';
export type { NatStats } from './nat.js';
export { PacketLinkEmulator } from './packet-emulator.js';
export type { PacketEmulatorStats, PacketLinkEmulatorOptions, TopologySideName } from './packet-emulator.js';
export type { PacketDirectionStats, PacketDropReason } from './packet-path.js';
export { spawnInNamespace, spawnNodeInNamespace, stopProcess } from './spawn.js';
export { DEFAULT_CLIENT_ADDRESS, DEFAULT_GATEWAY_ADDRESS, TUN_DEVICE_NAME } from './topology.js';
