// The seam between the session core and the transports. The core uses only these types; each
// transport plug-in under transports/ implements them and registers itself by name.
import type { Logger } from '../logger.js';

export type TransportKind = 'stream' | 'datagram';

export interface TransportAddress {
  host: string;
  port: number;
}

/** Server-side TLS material (PEM). QUIC, TLS and WebTransport need it; plain transports ignore it. */
export interface TlsServerMaterial {
  cert: string;
  key: string;
}

/** Client-side trust settings. */
export interface TlsClientMaterial {
  /** PEM of the CA (or self-signed certificate) to trust; the system store when absent. */
  ca?: string;
  /** Name checked against the certificate; defaults to the dial host. */
  serverName?: string;
}

export interface ListenOptions {
  host: string;
  /** 0 picks a free port; read the real one from TransportListener.address. */
  port: number;
  maxFrameSize: number;
  tls?: TlsServerMaterial;
  logger: Logger;
  /** Transport-specific settings, documented by each plug-in. */
  settings?: Record<string, unknown>;
}

export interface DialOptions {
  host: string;
  port: number;
  maxFrameSize: number;
  tls?: TlsClientMaterial;
  logger: Logger;
  /** Aborting cancels a dial in progress; the returned promise then rejects. */
  signal?: AbortSignal;
  settings?: Record<string, unknown>;
}

export interface ConnectionCloseInfo {
  /** Set when the connection ended through a failure rather than an orderly close. */
  error?: Error;
}

export interface ConnectionHandler {
  /** One complete frame body (an encoded Frame). */
  onFrame(frame: Uint8Array): void;
  /** A framing failure such as FrameTooLargeError; the session picks the close code and closes. */
  onError(error: Error): void;
  /** The send buffer fell below the transport's high-water mark again. */
  onDrain(): void;
  onClose(info: ConnectionCloseInfo): void;
}

export interface TransportConnection {
  readonly transport: string;
  /** Unique per process, for logs. */
  readonly id: string;
  readonly remoteAddress: string;
  readonly maxFrameSize: number;
  /** Bytes accepted by send() that have not reached the OS or the peer yet. */
  readonly bufferedAmount: number;
  /** True while bufferedAmount is above the high-water mark; wait for onDrain before sending more. */
  readonly congested: boolean;
  readonly closed: boolean;
  /** Counters for reports: bytes and writes handed to the OS (or datagrams sent). */
  readonly stats: ConnectionStats;
  /**
   * Installs the handler. Events that happen before this call are held and replayed to it, so a
   * frame that arrives between accept and handler installation is not lost.
   */
  setHandler(handler: ConnectionHandler): void;
  /** Sends one frame body, reliably and in order. Frames sent after close() are dropped. */
  send(frame: Uint8Array): void;
  /**
   * Sends a frame that may be lost (heartbeats, for example). Transports without an unreliable
   * channel send it reliably.
   */
  sendUnreliable(frame: Uint8Array): void;
  /** Flushes what was sent, then closes. */
  close(): void;
  /** Drops the connection at once, without flushing. */
  destroy(): void;
}

export interface ConnectionStats {
  bytesSent: number;
  bytesReceived: number;
  writes: number;
}

export interface TransportListener {
  readonly transport: string;
  readonly address: TransportAddress;
  /**
   * Settings a client needs to dial this listener that only the server has, such as a pinned
   * public key or certificate hashes; clients merge them into DialOptions.settings.
   */
  readonly clientSettings?: Record<string, unknown>;
  /**
   * Transport-specific counters (rerouted datagrams, rejected sessions), exported as metrics. Only
   * its numeric properties are read.
   */
  readonly counters?: object;
  /** Stops accepting and destroys every connection accepted by this listener. */
  close(): Promise<void>;
}

export interface Transport {
  readonly name: string;
  readonly kind: TransportKind;
  /** The IP protocol its packets use, so emulators and reports know which relay applies. */
  readonly ipProtocol: 'tcp' | 'udp';
  /** Whether the transport encrypts and authenticates its traffic. */
  readonly secure: boolean;
  listen(options: ListenOptions, onConnection: (connection: TransportConnection) => void): Promise<TransportListener>;
  dial(options: DialOptions): Promise<TransportConnection>;
}
