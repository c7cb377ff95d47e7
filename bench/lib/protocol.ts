// The commands the bench process sends to its children, with argument and result types.
import type { LatencySummary } from './latency.js';
import type { ProcessSample } from './process-sample.js';

/** Body of a baseline client's ack: the cumulative number of messages received, uint32 big-endian. */
export const BASELINE_ACK_BYTES = 4;

export interface TlsFiles {
  cert: string;
  key: string;
}

/** Counters of a push workload, cumulative since loadStart, plus the latency since the last sample. */
export interface LoadSample extends ProcessSample {
  /** Messages acknowledged by the clients. */
  acked: number;
  /** Messages written to connections. */
  sent: number;
  /** Transport writes issued for them (pushlab: pushlab_frames_written_total). */
  writes: number;
  /** Send (or publish) to ack, over the acks counted since the previous sample. */
  latency: LatencySummary;
}

export interface MemorySample extends ProcessSample {
  /** Open sessions (gateway) or open sockets (baseline). */
  connections: number;
}

export interface DeviceRef {
  userId: string;
  deviceId: string;
}

export type GatewayCommands = {
  start: [
    TlsFiles & {
      /** HMAC secret, hex. */
      secret: string;
      coalescing: boolean;
      heartbeatIntervalMs: number;
      /** Grace after the interval; default: the interval. */
      heartbeatTimeoutMs?: number;
      /** Name in the built-in transport registry; default "tcp". */
      transport?: string;
      /** Listener settings of that transport. */
      settings?: Record<string, unknown>;
    },
    /** `clientSettings`: what a client must merge into its dial settings (a pinned key, certificate hashes). */
    { port: number; clientSettings?: Record<string, unknown> },
  ];
  /** Starts publishing to `devices`, keeping `inflightPerDevice` messages unacknowledged per device. */
  loadStart: [{ devices: DeviceRef[]; inflightPerDevice: number; payloadBytes: number }, { devicesFound: number }];
  sample: [Record<string, never>, LoadSample];
  /** Stops publishing and waits (bounded) until the devices have acknowledged every message. */
  loadStop: [Record<string, never>, { published: number }];
  memory: [Record<string, never>, MemorySample];
  /** Writes a V8 heap snapshot into `dir`; returns its path. */
  heapSnapshot: [{ dir: string }, { file: string }];
};

export type BaselineCommands = {
  /** A TLS server that sends `messageBytes`-byte messages once a load run starts. */
  startPush: [TlsFiles & { messageBytes: number }, { port: number }];
  /**
   * Waits (bounded) until `expectedConnections` clients are accepted, then sends on each, keeping
   * `inflightPerConnection` messages unacknowledged.
   */
  loadStart: [{ expectedConnections: number; inflightPerConnection: number }, { connections: number }];
  sample: [Record<string, never>, LoadSample];
  /** Stops sending and waits (bounded) for the acks of the messages still in flight; returns the messages sent in this run. */
  loadStop: [Record<string, never>, { sent: number }];
  /** A TLS server that replies to the first bytes of each connection with one `replyBytes`-byte frame, then idles. */
  startIdle: [TlsFiles & { replyBytes: number }, { port: number }];
  memory: [Record<string, never>, MemorySample];
  heapSnapshot: [{ dir: string }, { file: string }];
};
