// Transport-level retransmission counters of the devices' own connections. The transport seam has
// no counter API, so this wrapper keeps every connection a device dials. It reads the UDP
// transport's `counters` and, for QUIC, quiche's connection statistics (`stats()` of the native
// connection in @matrixai/quic 2.0.9). Connections of other transports are counted but add nothing.
import type { DialOptions, ListenOptions, Transport, TransportConnection, TransportListener } from '../transport/types.js';

export interface DeviceTransportCounters {
  /** Connections the devices dialed successfully. */
  connections: number;
  /** Packets or segments the devices' transports sent again; null when no connection exposes it. */
  retransmissions: number | null;
  /** Packets the devices' transports declared lost (QUIC only); null otherwise. */
  lost: number | null;
  /** Name of the counters read, e.g. "udp connection counters" or "quiche stats". */
  source: string | null;
}

interface Reading {
  retransmissions: number;
  lost: number | null;
  source: string;
}

/** Interval of QUIC statistics samples, because a closed native connection may no longer return them. */
const SAMPLE_INTERVAL_MS = 1_000;

/** Reads the counters a connection exposes; undefined for transports without any. */
function readConnection(connection: TransportConnection): Reading | undefined {
  const udp = (connection as { counters?: { retransmissions?: unknown } }).counters;
  if (udp !== undefined && typeof udp.retransmissions === 'number') {
    return { retransmissions: udp.retransmissions, lost: null, source: 'udp connection counters' };
  }
  // NOTE: reaches into QuicConnection's private `library` field (a QUICConnection) and its native
  // quiche connection; a counter accessor on the QUIC transport would remove this.
  const native = (connection as { library?: { conn?: { stats?: () => { retrans: number; lost: number } } } }).library?.conn;
  if (native?.stats !== undefined) {
    const stats = native.stats();
    return { retransmissions: stats.retrans, lost: stats.lost, source: 'quiche stats' };
  }
  return undefined;
}

export class CountingTransport implements Transport {
  private readonly readings = new Map<TransportConnection, Reading | undefined>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly inner: Transport) {}

  get name(): string {
    return this.inner.name;
  }

  get kind(): Transport['kind'] {
    return this.inner.kind;
  }

  get ipProtocol(): Transport['ipProtocol'] {
    return this.inner.ipProtocol;
  }

  get secure(): boolean {
    return this.inner.secure;
  }

  listen(options: ListenOptions, onConnection: (connection: TransportConnection) => void): Promise<TransportListener> {
    return this.inner.listen(options, onConnection);
  }

  async dial(options: DialOptions): Promise<TransportConnection> {
    const connection = await this.inner.dial(options);
    this.readings.set(connection, undefined);
    this.sample(connection);
    this.timer ??= setInterval(() => this.sampleAll(), SAMPLE_INTERVAL_MS).unref();
    return connection;
  }

  /** Sums the last reading of every connection dialed so far. */
  totals(): DeviceTransportCounters {
    this.sampleAll();
    const totals: DeviceTransportCounters = { connections: this.readings.size, retransmissions: null, lost: null, source: null };
    for (const reading of this.readings.values()) {
      if (reading === undefined) continue;
      totals.retransmissions = (totals.retransmissions ?? 0) + reading.retransmissions;
      if (reading.lost !== null) totals.lost = (totals.lost ?? 0) + reading.lost;
      totals.source = reading.source;
    }
    return totals;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private sampleAll(): void {
    for (const connection of this.readings.keys()) this.sample(connection);
  }

  private sample(connection: TransportConnection): void {
    try {
      const reading = readConnection(connection);
      if (reading !== undefined) this.readings.set(connection, reading);
    } catch {
      // A closed native connection may throw; its last reading stays.
    }
  }
}

/** Adds the totals of several CountingTransports (one per device). */
export function addCounters(parts: readonly DeviceTransportCounters[]): DeviceTransportCounters {
  const sum: DeviceTransportCounters = { connections: 0, retransmissions: null, lost: null, source: null };
  for (const part of parts) {
    sum.connections += part.connections;
    if (part.retransmissions !== null) sum.retransmissions = (sum.retransmissions ?? 0) + part.retransmissions;
    if (part.lost !== null) sum.lost = (sum.lost ?? 0) + part.lost;
    sum.source ??= part.source;
  }
  return sum;
}
