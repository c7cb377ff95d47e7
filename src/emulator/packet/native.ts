// Loader and types of the TUN addon in native/tun (C++, plain N-API, built with node-gyp).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { PacketEmulatorError } from './errors.js';

export interface TunDevice {
  /** Non-blocking, close-on-exec descriptor; the device exists until it is closed. */
  fd: number;
  name: string;
}

/** Error passed to a TunReader callback when a read fails; the reader has stopped by then. */
export type TunReadError = Error & { errno?: number };

export interface TunReaderHandle {
  /** Stops polling; no callback runs afterwards. Does not close the descriptor. */
  stop(): void;
  ref(): void;
  unref(): void;
}

export interface TunAddon {
  /** Creates a TUN device (IFF_TUN | IFF_NO_PI); inside the network namespace at `netnsPath` when given. */
  openTun(name: string, netnsPath?: string): TunDevice;
  /** Writes one IP packet; returns the bytes written, or the negated errno when the write failed. */
  writePacket(fd: number, packet: Buffer): number;
  closeFd(fd: number): void;
  /**
   * Polls `fd` on the event loop and calls back with every packet read on one wake-up (at most
   * `maxBatch`, default 64). A read error is passed once, after which the reader is stopped.
   */
  TunReader: new (fd: number, callback: (error: TunReadError | null, packets: Buffer[]) => void, maxBatch?: number) => TunReaderHandle;
}

/** Environment variable that overrides where the compiled addon is loaded from. */
export const TUN_ADDON_PATH_VARIABLE = 'PUSHLAB_TUN_ADDON';
/** Builds the addon offline with the node-gyp bundled in npm and the Node headers under `npm config get nodedir`. */
export const TUN_ADDON_BUILD_COMMAND = 'npm run build --prefix native/tun';

/** Path of the compiled addon: $PUSHLAB_TUN_ADDON, or native/tun/build/Release in the repository. */
export function tunAddonPath(): string {
  const override = process.env[TUN_ADDON_PATH_VARIABLE];
  if (override !== undefined && override !== '') return override;
  return fileURLToPath(new URL('../../../native/tun/build/Release/pushlab_tun.node', import.meta.url));
}

let cached: TunAddon | undefined;

/** Loads the addon once; throws PacketEmulatorError (kind 'unavailable') with the build command. */
export function loadTunAddon(): TunAddon {
  if (cached !== undefined) return cached;
  const path = tunAddonPath();
  if (!existsSync(path)) {
    throw new PacketEmulatorError('unavailable', `TUN addon not found at ${path}; build it with: ${TUN_ADDON_BUILD_COMMAND}`);
  }
  try {
    cached = createRequire(import.meta.url)(path) as TunAddon;
  } catch (error) {
    throw new PacketEmulatorError('unavailable', `TUN addon at ${path} failed to load (rebuild it with: ${TUN_ADDON_BUILD_COMMAND})`, { cause: error });
  }
  return cached;
}
