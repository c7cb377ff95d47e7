// Public types of the gateway's publish API, shared by the HTTP API, the router and the library.

export type PriorityName = 'normal' | 'high';

export interface PublishRequest {
  userId: string;
  /** One device; every device the gateway has seen for the user when absent. */
  deviceId?: string;
  payload: Uint8Array;
  priority?: PriorityName;
  /** Idempotency key: a second publish with the same id to the same device is not delivered again. */
  messageId?: string;
}

export type DeliveryStatus = 'sent' | 'queued' | 'duplicate';

export interface DeviceDelivery {
  deviceId: string;
  seq: number;
  status: DeliveryStatus;
}

export interface PublishResult {
  messageId: string;
  deliveries: DeviceDelivery[];
}

/** The publish entry point the HTTP API calls: a gateway, or the primary of a multi-process gateway. */
export interface PublishTarget {
  publish(request: PublishRequest): Promise<PublishResult>;
}

export interface HealthReport {
  status: 'ok' | 'draining';
  sessions: number;
  listeners: { transport: string; host: string; port: number }[];
  uptimeSeconds: number;
}
