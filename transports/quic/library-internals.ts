// Typed access to the parts of @matrixai/quic 2.0.9 that its .d.ts leaves out (they are marked
// @internal upstream) but that this transport needs: the native quiche connection for datagrams and
// path statistics, the stream map, recv/send, and the socket's connection map. Every cast lives
// here, so an upgrade of the library has one file to re-check.
import type { QUICConnection, QUICSocket, QUICStream, native } from '@matrixai/quic';

export type NativeConnection = native.Connection;

/** The members of QUICConnection that exist at run time but not in its type declarations. */
export interface ConnectionInternals {
  conn: NativeConnection;
  streamMap: Map<number, QUICStream>;
  recv(data: Uint8Array, remoteInfo: { host: string; port: number }): Promise<void>;
  send(): Promise<void>;
  processStreams(): void;
}

export interface ConnectionMapInternals {
  has(connectionId: Uint8Array): boolean;
  set(connectionId: Uint8Array, connection: QUICConnection): unknown;
}

/**
 * The EventTarget surface of every Evented class of the library. Registering a listener for the
 * type 'EventError' replaces the library's default handler, which rethrows the error as an uncaught
 * exception (see @matrixai/events 4.0.1, Evented.addEventListener).
 */
export interface EventedLike {
  addEventListener(type: string, listener: (event: Event & { detail?: unknown }) => unknown, options?: { once?: boolean }): void;
  removeEventListener(type: string, listener: (event: Event & { detail?: unknown }) => unknown): void;
}

export const EVENT_ERROR = 'EventError';

export function connectionInternals(connection: QUICConnection): ConnectionInternals {
  return connection as unknown as ConnectionInternals;
}

export function nativeConnection(connection: QUICConnection): NativeConnection {
  return connectionInternals(connection).conn;
}

export function connectionMapOf(socket: QUICSocket): ConnectionMapInternals {
  return (socket as unknown as { connectionMap: ConnectionMapInternals }).connectionMap;
}

export function asEvented(target: object): EventedLike {
  return target as EventedLike;
}
