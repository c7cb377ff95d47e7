// Typed errors of the packet-level emulator. They share the code 'EMULATOR_FAILED' with the relay
// backend's EmulatorError, so callers can switch on `code` for both and on `kind` for details.
import { PushlabError } from '../../errors.js';

export type PacketEmulatorFailureKind =
  /** The machine lacks a requirement (root, /dev/net/tun, iproute2, the addon, namespaces). */
  | 'unavailable'
  /** Creating the namespaces or TUN devices failed; everything created so far was removed. */
  | 'setup-failed'
  /** An external command (ip, sysctl) exited with an error or timed out. */
  | 'command-failed'
  /** The emulator was already closed. */
  | 'closed';

export class PacketEmulatorError extends PushlabError {
  override readonly name = 'PacketEmulatorError';

  constructor(
    readonly kind: PacketEmulatorFailureKind,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super('EMULATOR_FAILED', message, options);
  }
}
