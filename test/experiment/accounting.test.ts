import { describe, expect, it } from 'vitest';
import { DeliveryLedger } from '../../src/experiment/delivery-ledger.js';
import { formatGatewayLogLine } from '../../src/experiment/gateway-process.js';
import { parseExposition, sumOf, toSnapshot } from '../../src/experiment/metrics-scrape.js';

describe('delivery ledger', () => {
  it('counts a delivered message once', () => {
    const ledger = new DeliveryLedger();
    ledger.confirm(0, 'm1');
    expect(ledger.undelivered).toBe(1);
    ledger.receive(0, 'm1', 1_000, 12);
    expect(ledger.delivered).toBe(1);
    expect(ledger.undelivered).toBe(0);
    expect(ledger.counts()).toEqual({ published: 1, delivered: 1, lost: 0, duplicated: 0, unexpected: 0, publishFailed: 0 });
  });

  it('matches a receipt that beats the publish response', () => {
    const ledger = new DeliveryLedger();
    ledger.receive(2, 'm1', 1_000, 5);
    expect(ledger.delivered).toBe(0);
    ledger.confirm(2, 'm1');
    expect(ledger.delivered).toBe(1);
    expect(ledger.counts().unexpected).toBe(0);
  });

  it('counts repeats as duplicates, not deliveries', () => {
    const ledger = new DeliveryLedger();
    ledger.confirm(0, 'm1');
    ledger.receive(0, 'm1', 1_000, 10);
    ledger.receive(0, 'm1', 1_000, 900);
    ledger.receive(0, 'm1', 1_000, 950);
    expect(ledger.counts()).toMatchObject({ delivered: 1, duplicated: 2, lost: 0 });
    // Latency counts the first receipt only.
    expect(ledger.latenciesMs()).toEqual([10]);
  });

  it('counts never-received messages as lost', () => {
    const ledger = new DeliveryLedger();
    ledger.confirm(0, 'm1');
    ledger.confirm(1, 'm2');
    ledger.receive(1, 'm2', 1_000, 10);
    expect(ledger.counts()).toMatchObject({ published: 2, delivered: 1, lost: 1 });
  });

  it('flags a message received by the wrong device', () => {
    const ledger = new DeliveryLedger();
    ledger.confirm(0, 'm1');
    ledger.receive(1, 'm1', 1_000, 10);
    expect(ledger.counts()).toMatchObject({ delivered: 0, lost: 1, unexpected: 1 });
  });

  it('counts failed publishes apart', () => {
    const ledger = new DeliveryLedger();
    ledger.fail();
    expect(ledger.counts()).toMatchObject({ published: 0, lost: 0, publishFailed: 1 });
  });

  it('filters latencies by publish time', () => {
    const ledger = new DeliveryLedger();
    for (const [id, publishedAt, latency] of [['a', 100, 1], ['b', 200, 2], ['c', 300, 3]] as const) {
      ledger.confirm(0, id);
      ledger.receive(0, id, publishedAt, latency);
    }
    expect(ledger.latenciesMs(250)).toEqual([1, 2]);
    expect(ledger.latenciesMs()).toEqual([1, 2, 3]);
  });
});

const EXPOSITION = `# HELP pushlab_messages_published_total Messages accepted for a device, by outcome.
# TYPE pushlab_messages_published_total counter
pushlab_messages_published_total{outcome="sent"} 40
pushlab_messages_published_total{outcome="queued"} 10
pushlab_messages_published_total{outcome="duplicate"} 3
pushlab_pushes_acked_total{transport="tcp"} 45
pushlab_pushes_acked_total{transport="quic"} 2
pushlab_inbox_dropped_total 1
pushlab_sessions_active{transport="tcp"} 49
pushlab_gateway_process_resident_memory_bytes 123456789
pushlab_gateway_nodejs_heap_size_used_bytes 2.5e7 1700000000000
pushlab_resumes_total{transport="tcp",outcome="new"} 50
pushlab_resumes_total{transport="tcp",outcome="resumed"} 48
pushlab_connections_closed_total{transport="tcp",code="a \\"quoted\\" \\\\ value, with comma"} 2
pushlab_push_ack_latency_seconds_bucket{transport="tcp",le="+Inf"} 47
not a sample line
`;

describe('metrics scrape', () => {
  const samples = parseExposition(EXPOSITION);

  it('parses names, labels and values', () => {
    expect(samples.find((s) => s.name === 'pushlab_inbox_dropped_total')).toEqual({ name: 'pushlab_inbox_dropped_total', labels: {}, value: 1 });
    expect(sumOf(samples, 'pushlab_gateway_nodejs_heap_size_used_bytes')).toBe(25_000_000);
    expect(sumOf(samples, 'pushlab_pushes_acked_total')).toBe(47);
    expect(sumOf(samples, 'pushlab_pushes_acked_total', { transport: 'quic' })).toBe(2);
  });

  it('unescapes label values', () => {
    const closed = samples.find((s) => s.name === 'pushlab_connections_closed_total');
    expect(closed?.labels.code).toBe('a "quoted" \\ value, with comma');
  });

  it('reads +Inf bucket labels', () => {
    expect(samples.find((s) => s.name === 'pushlab_push_ack_latency_seconds_bucket')?.labels.le).toBe('+Inf');
  });

  it('skips comments and malformed lines', () => {
    expect(samples.some((s) => s.name === 'not')).toBe(false);
    expect(samples).toHaveLength(13);
  });

  it('derives what the inboxes hold', () => {
    const snapshot = toSnapshot(samples);
    expect(snapshot.stored).toBe(50);
    expect(snapshot.acked).toBe(47);
    expect(snapshot.inboxDropped).toBe(1);
    expect(snapshot.inboxPending).toBe(2);
    expect(snapshot.sessionsActive).toBe(49);
    expect(snapshot.rssBytes).toBe(123_456_789);
    expect(snapshot.resumes).toEqual({ new: 50, resumed: 48 });
  });
});

describe('gateway log lines', () => {
  it('shortens pino JSON', () => {
    const line = JSON.stringify({ level: 40, time: 1, pid: 2, hostname: 'h', name: 'pushlab', component: 'gateway', msg: 'publish rejected' });
    expect(formatGatewayLogLine(line)).toBe('warn: publish rejected {"component":"gateway"}');
  });

  it('passes other text through', () => {
    expect(formatGatewayLogLine('Error: boom')).toBe('Error: boom');
    expect(formatGatewayLogLine('[1,2]')).toBe('[1,2]');
  });
});
