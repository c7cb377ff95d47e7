// Routes messages to devices whose inboxes and sessions live in this process.
import type { DeviceRegistry } from '../gateway/device-registry.js';
import type { DeviceDelivery, PublishResult } from '../gateway/types.js';
import type { StoredMessage } from '../inbox/device-inbox.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { MessageRouter, RoutedMessage } from './router.js';

export interface RoutableSession {
  readonly epoch: number;
  enqueue(message: StoredMessage): void;
}

export class LocalRouter implements MessageRouter {
  constructor(
    private readonly devices: DeviceRegistry<RoutableSession>,
    private readonly metrics: GatewayMetrics,
  ) {}

  async route(message: RoutedMessage): Promise<PublishResult> {
    const deviceIds = message.deviceId !== undefined ? [message.deviceId] : this.devices.deviceIdsOf(message.userId);
    const deliveries: DeviceDelivery[] = [];
    for (const deviceId of deviceIds) {
      const device = this.devices.getOrCreate(message.userId, deviceId);
      const result = device.inbox.append(message.messageId, message.priority, message.payload, message.publishedAtMs, message.idempotent);
      if (result.dropped > 0) this.metrics.inboxDropped.inc(result.dropped);
      if (result.duplicate) {
        deliveries.push({ deviceId, seq: result.message.seq, status: 'duplicate' });
        this.metrics.messagesPublished.inc({ outcome: 'duplicate' });
        continue;
      }
      // Without a live session the message waits in the inbox until the device reconnects.
      const status = device.live ? 'sent' : 'queued';
      device.live?.enqueue(result.message);
      deliveries.push({ deviceId, seq: result.message.seq, status });
      this.metrics.messagesPublished.inc({ outcome: status });
    }
    return { messageId: message.messageId, deliveries };
  }
}
