// The seam between the publish API and the sessions. Publishing goes through a MessageRouter,
// which finds the device's inbox and live session and hands the message over. The local router
// below serves one process; a cluster router can put a broker (NATS, Redis) between the publish
// API and many gateway nodes behind this same interface without touching the session core.
import type { Priority } from '../codec/proto.js';
import type { PublishResult } from '../gateway/types.js';

export interface RoutedMessage {
  userId: string;
  /** One device; every known device of the user when absent. */
  deviceId?: string;
  messageId: string;
  /** True when the publisher chose the id, so a repeat of it must be recognised as a duplicate. */
  idempotent: boolean;
  priority: Priority;
  payload: Uint8Array;
  publishedAtMs: number;
}

export interface MessageRouter {
  route(message: RoutedMessage): Promise<PublishResult>;
}
