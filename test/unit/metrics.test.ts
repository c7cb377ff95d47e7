import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../src/metrics/gateway-metrics.js';

describe('gateway metrics', () => {
  it('registers twice on one registry', async () => {
    const registry = new client.Registry();
    const first = new GatewayMetrics(registry);
    const second = new GatewayMetrics(registry);
    first.pushesSent.inc({ transport: 'tcp' });
    second.pushesSent.inc({ transport: 'tcp' });
    const text = await registry.metrics();
    expect(text.split('\n').filter((line) => line === '# TYPE pushlab_pushes_sent_total counter')).toHaveLength(1);
    expect(text).toContain('pushlab_pushes_sent_total{transport="tcp"} 2');
  });

  it('exports listener counters at scrape time', async () => {
    const registry = new client.Registry();
    const metrics = new GatewayMetrics(registry);
    const counters = { unreliableRerouted: 3, label: 'ignored' };
    metrics.addCounterSource(() => [{ transport: 'webtransport', counters }]);
    expect(await registry.metrics()).toContain('pushlab_transport_events{transport="webtransport",counter="unreliableRerouted"} 3');
    counters.unreliableRerouted = 5;
    const text = await registry.metrics();
    expect(text).toContain('pushlab_transport_events{transport="webtransport",counter="unreliableRerouted"} 5');
    expect(text).not.toContain('counter="label"');
  });
});
