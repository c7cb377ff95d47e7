// The simulated devices of one cell, as the cell drives them: a DeviceFleet in the runner process
// (relay backend), or a RemoteFleet that drives a DeviceFleet in a child process inside the
// client's network namespace (packet backend). Both report every receipt to a ReceiptSink.
import type { TransportRegistry } from '../transport/registry.js';
import type { TlsClientMaterial } from '../transport/types.js';
import type { Logger } from '../logger.js';
import type { ClientSpec } from './scenario.js';
import type { DeviceTransportCounters } from './transport-counters.js';

export interface DeviceIdentity {
  userId: string;
  deviceId: string;
}

/** Returns the identity of the device at `index`, the same in the runner and in a device driver. */
export function deviceIdentity(index: number): DeviceIdentity {
  return { userId: `user-${index}`, deviceId: 'phone' };
}

/** Receives each message a device's application got; `latencyMs` is receive time minus publish time. */
export interface ReceiptSink {
  receive(device: number, messageId: string, publishedAtMs: number, latencyMs: number): void;
}

/** Fleet settings besides the receipt sink: plain data, so they can cross a process boundary. */
export interface FleetSpec {
  transport: string;
  /** Address devices dial. */
  dialAddress: { host: string; port: number };
  tls: TlsClientMaterial;
  /** Settings from the gateway's ready line that clients of this listener need. */
  transportSettings?: Record<string, unknown>;
  /** HMAC secret the devices' tokens are signed with. */
  secret: string;
  count: number;
  client: ClientSpec;
  seed: number;
  /** Lifetime of the device tokens; longer than the whole run. */
  tokenTtlMs: number;
}

export interface LocalFleetOptions extends FleetSpec {
  registry: TransportRegistry;
  receipts: ReceiptSink;
  logger: Logger;
}

export interface FleetSummary {
  devices: number;
  /** Devices connected when the summary was taken. */
  connected: number;
  /** Dial-to-welcome time of each device's first connect, in ms. */
  initialConnectMs: number[];
  /** Dial-to-welcome time of every later connect (after an outage), in ms. */
  reconnectConnectMs: number[];
  reconnects: number;
  failedAttempts: number;
  heartbeatTimeouts: number;
  gaps: number;
  /** Ping and pong frame bytes across all devices. */
  heartbeatBytes: number;
  /** Time spent connected, summed over devices, in ms. */
  connectedMs: number;
  /** Pushes the client library dropped as repeats of a sequence number it already had. */
  transportDuplicatesFiltered: number;
  /** Client warnings (failed attempts, timeouts) by error code. */
  warnings: Record<string, number>;
  /** Transport-level counters of the devices' connections, where the transport exposes them. */
  transport: DeviceTransportCounters;
}

export interface Fleet {
  readonly identities: DeviceIdentity[];
  /** Devices connected now (a remote fleet reports changes as they happen). */
  readonly connectedCount: number;
  /**
   * Connects the devices at `indices`, at most `concurrency` dialing at once. Throws
   * ExperimentError (phase connect) when they are not all connected by `deadline` (epoch ms).
   */
  connect(indices: readonly number[], concurrency: number, deadline: number): Promise<void>;
  summary(): Promise<FleetSummary>;
  /** Closes every client with NORMAL and waits `graceMs` for the close frames to cross the link. */
  close(graceMs: number): Promise<void>;
}
