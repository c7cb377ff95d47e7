// Orderly close shared by both ends: tell the peer why in a Close frame, then end the connection.
import { encodeFrame } from '../codec/frame-codec.js';
import type { CloseCode } from '../codec/proto.js';
import type { TransportConnection } from '../transport/types.js';

export function sendCloseAndEnd(connection: TransportConnection, code: CloseCode, reason: string): void {
  if (connection.closed) return;
  connection.send(encodeFrame({ close: { code, reason } }));
  connection.close();
}
