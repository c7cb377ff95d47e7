// Turns a publish request into the message that routers carry: checks that it fits one frame,
// assigns a message id when the caller gave none, and stamps the publish time.
import { randomUUID } from 'node:crypto';
import { Priority } from '../codec/proto.js';
import { MessageTooLargeError } from '../errors.js';
import type { RoutedMessage } from '../routing/router.js';
import type { PublishRequest } from './types.js';

/** Bytes a push frame adds around its payload (field tags, seq, timestamps), generously rounded up. */
const PUSH_OVERHEAD_BYTES = 128;
/** Length of a generated message id (a UUID). */
const GENERATED_ID_LENGTH = 36;

export function toRoutedMessage(request: PublishRequest, maxFrameSize: number, nowMs: number): RoutedMessage {
  const limit = maxFrameSize - PUSH_OVERHEAD_BYTES - (request.messageId?.length ?? GENERATED_ID_LENGTH);
  if (request.payload.length > limit) throw new MessageTooLargeError(request.payload.length, limit);
  return {
    userId: request.userId,
    deviceId: request.deviceId,
    messageId: request.messageId ?? randomUUID(),
    idempotent: request.messageId !== undefined,
    priority: request.priority === 'high' ? Priority.PRIORITY_HIGH : Priority.PRIORITY_NORMAL,
    payload: request.payload,
    publishedAtMs: nowMs,
  };
}
