// IPC messages between the primary and the worker processes of a multi-process gateway. The
// primary forwards every message whose `to` names a worker; structured-clone serialization
// ("advanced") carries Uint8Array frames without base64.
import type { Hello } from '../codec/proto.js';
import type { HealthReport, PublishResult } from '../gateway/types.js';
import type { RoutedMessage } from '../routing/router.js';

/** A worker index, or the primary. */
export type ProcessAddress = number | 'primary';

export type ClusterBody =
  /** A worker finished starting its listeners. */
  | { t: 'ready'; listeners: HealthReport['listeners']; clientSettings: (Record<string, unknown> | undefined)[] }
  /** The origin worker hands an authenticated connection to the owner of its user. */
  | { t: 'handoff'; conn: string; hello: Hello; transport: string; remote: string; maxFrameSize: number }
  /** One frame body: from the device when sent to the owner, to the device when sent to the origin. */
  | { t: 'frame'; conn: string; frame: Uint8Array }
  /** To the origin: end (flush) or destroy the connection. To the owner: the connection has closed. */
  | { t: 'close'; conn: string; mode: 'end' | 'destroy' | 'closed' }
  | { t: 'route'; id: number; message: RoutedMessage }
  | { t: 'route-result'; id: number; result?: PublishResult; error?: { name: string; code: string; message: string } }
  | { t: 'health'; id: number }
  | { t: 'health-result'; id: number; sessions: number };

export interface ClusterEnvelope {
  to: ProcessAddress;
  /** Set by the primary when it forwards: the sender's address. */
  from?: ProcessAddress;
  body: ClusterBody;
}

export const WORKER_INDEX_ENV = 'PUSHLAB_WORKER_INDEX';
export const WORKER_COUNT_ENV = 'PUSHLAB_WORKER_COUNT';
