// Gateway metrics on prom-client. Label sets are fixed and small (transport, outcome, close code),
// never user or device ids, so cardinality stays bounded whatever the traffic.
//
// Registration is idempotent: a second GatewayMetrics on the same registry (two listeners, a
// component restarted in the same process) reuses the families already there instead of throwing,
// so /metrics lists each family once.
import client from 'prom-client';

export type HandshakeOutcome = 'ok' | 'auth_failed' | 'stale_attempt' | 'protocol_error' | 'timeout' | 'frame_too_large';
export type ProtocolErrorKind = 'malformed' | 'frame_too_large' | 'unexpected_frame';
export type PublishOutcome = 'sent' | 'queued' | 'duplicate';
export type ResumeOutcome = 'new' | 'resumed' | 'gap';

function counter<L extends string>(registry: client.Registry, name: string, help: string, labelNames: readonly L[]): client.Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as client.Counter<L>;
  return new client.Counter({ name, help, labelNames, registers: [registry] });
}

function gauge<L extends string>(registry: client.Registry, name: string, help: string, labelNames: readonly L[]): client.Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as client.Gauge<L>;
  return new client.Gauge({ name, help, labelNames, registers: [registry] });
}

function histogram<L extends string>(registry: client.Registry, name: string, help: string, labelNames: readonly L[], buckets: number[]): client.Histogram<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as client.Histogram<L>;
  return new client.Histogram({ name, help, labelNames, buckets, registers: [registry] });
}

/** Returns the current counters of each transport listener. */
export type CounterSource = () => { transport: string; counters: object }[];

const defaultMetricsRegistries = new WeakSet<client.Registry>();

/** Adds prom-client's process metrics (RSS, heap, event-loop lag) once per registry. */
export function collectProcessMetrics(registry: client.Registry): void {
  if (defaultMetricsRegistries.has(registry)) return;
  defaultMetricsRegistries.add(registry);
  client.collectDefaultMetrics({ register: registry, prefix: 'pushlab_gateway_' });
}

export class GatewayMetrics {
  readonly connectionsOpened;
  readonly connectionsClosed;
  readonly sessionsActive;
  readonly handshakes;
  readonly protocolErrors;
  readonly messagesPublished;
  readonly pushesSent;
  readonly pushesAcked;
  readonly retransmissions;
  readonly ackLatency;
  readonly upstreamApplied;
  readonly upstreamDuplicates;
  readonly heartbeatTimeouts;
  readonly framesWritten;
  readonly framesCoalesced;
  readonly resumes;
  readonly inboxDropped;
  readonly transportCounters;
  private readonly counterSources: CounterSource[] = [];

  constructor(readonly registry: client.Registry = new client.Registry()) {
    const r = registry;
    this.connectionsOpened = counter(r, 'pushlab_connections_opened_total', 'Transport connections accepted.', ['transport']);
    this.connectionsClosed = counter(r, 'pushlab_connections_closed_total', 'Transport connections closed, by close code.', ['transport', 'code']);
    this.sessionsActive = gauge(r, 'pushlab_sessions_active', 'Sessions past the hello, currently live.', ['transport']);
    this.handshakes = counter(r, 'pushlab_handshakes_total', 'Hello handshakes, by outcome.', ['transport', 'outcome']);
    this.protocolErrors = counter(r, 'pushlab_protocol_errors_total', 'Sessions closed for malformed or oversized frames.', ['transport', 'kind']);
    this.messagesPublished = counter(r, 'pushlab_messages_published_total', 'Messages accepted for a device, by outcome.', ['outcome']);
    this.pushesSent = counter(r, 'pushlab_pushes_sent_total', 'Push frames written to sessions (replays included).', ['transport']);
    this.pushesAcked = counter(r, 'pushlab_pushes_acked_total', 'Pushes acknowledged by devices.', ['transport']);
    this.retransmissions = counter(r, 'pushlab_push_retransmissions_total', 'Pushes sent again after a resume.', ['transport']);
    this.ackLatency = histogram(r, 'pushlab_push_ack_latency_seconds', 'Time from publish to device ack.', ['transport'], [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
    this.upstreamApplied = counter(r, 'pushlab_upstream_applied_total', 'Client publishes applied.', ['transport']);
    this.upstreamDuplicates = counter(r, 'pushlab_upstream_duplicates_total', 'Client publishes received again and answered with the original ack.', ['transport']);
    this.heartbeatTimeouts = counter(r, 'pushlab_heartbeat_timeouts_total', 'Sessions closed because the peer went silent.', ['transport']);
    this.framesWritten = counter(r, 'pushlab_frames_written_total', 'Transport writes issued by sessions (a batch counts once).', ['transport']);
    this.framesCoalesced = counter(r, 'pushlab_frames_coalesced_total', 'Frames that travelled inside a batch.', ['transport']);
    this.resumes = counter(r, 'pushlab_resumes_total', 'Welcome resume results.', ['transport', 'outcome']);
    this.inboxDropped = counter(r, 'pushlab_inbox_dropped_total', 'Unacked messages dropped because an inbox hit its retention limit.', []);
    const sources = this.counterSources;
    this.transportCounters =
      (r.getSingleMetric('pushlab_transport_events') as client.Gauge<'transport' | 'counter'> | undefined) ??
      new client.Gauge({
        name: 'pushlab_transport_events',
        help: 'Counters kept by transport listeners (for example WebTransport datagrams rerouted to the stream), read at scrape time.',
        labelNames: ['transport', 'counter'],
        registers: [r],
        collect() {
          this.reset();
          for (const source of sources) {
            for (const { transport, counters } of source()) {
              for (const [name, value] of Object.entries(counters)) {
                if (typeof value === 'number') this.inc({ transport, counter: name }, value);
              }
            }
          }
        },
      });
  }

  /** Adds a source of listener counters, read at every scrape. */
  addCounterSource(source: CounterSource): void {
    this.counterSources.push(source);
  }
}
