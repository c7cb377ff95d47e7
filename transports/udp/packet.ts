// Datagram layouts of the UDP transport. Every datagram starts with a type byte and the 8-byte
// connection id. So a server routes it to its connection before any cryptography, and the
// connection survives a change of the client's address. docs/UDP.md lists each layout.

/** Largest datagram either side sends, headers and AEAD tag included (QUIC's safe minimum, RFC 9000 section 14). */
export const MAX_DATAGRAM_SIZE = 1200;
/** The client pads INIT to this size, so a server reply is never larger than the datagram that caused it. */
export const INIT_DATAGRAM_SIZE = MAX_DATAGRAM_SIZE;
export const PROTOCOL_VERSION = 1;
export const CID_LENGTH = 8;
export const KEY_LENGTH = 32;
export const TAG_LENGTH = 16;
export const PN_LENGTH = 6;
export const COOKIE_LENGTH = 32;
/** Packet numbers use 6 bytes on the wire; a connection closes before it would reuse one. */
export const MAX_PACKET_NUMBER = 2 ** 48 - 1;

export const PacketType = {
  INIT: 0x01,
  RETRY: 0x02,
  RESPONSE: 0x03,
  REJECT: 0x04,
  DATA: 0x05,
} as const;

export const DATA_HEADER_LENGTH = 1 + CID_LENGTH + PN_LENGTH;
/** Plaintext bytes that fit in one DATA datagram. */
export const MAX_DATA_PLAINTEXT = MAX_DATAGRAM_SIZE - DATA_HEADER_LENGTH - TAG_LENGTH;

export type Packet =
  | { type: typeof PacketType.INIT; version: number; cid: Buffer; ephemeral: Buffer; cookie: Buffer | null; ciphertext: Buffer }
  | { type: typeof PacketType.RETRY; cid: Buffer; cookie: Buffer }
  | { type: typeof PacketType.RESPONSE; cid: Buffer; ephemeral: Buffer; ciphertext: Buffer }
  | { type: typeof PacketType.REJECT; cid: Buffer; reason: number }
  | { type: typeof PacketType.DATA; cid: Buffer; packetNumber: number; header: Buffer; ciphertext: Buffer };

export const RejectReason = {
  /** The INIT did not decrypt with the server's static key: the client pinned another key. */
  DECRYPT_FAILED: 1,
} as const;

export function encodeInit(cid: Buffer, ephemeral: Buffer, cookie: Buffer | null, ciphertext: Buffer): Buffer {
  const out = Buffer.alloc(INIT_DATAGRAM_SIZE);
  let offset = out.writeUInt8(PacketType.INIT, 0);
  offset += cid.copy(out, offset);
  offset = out.writeUInt8(PROTOCOL_VERSION, offset);
  offset += ephemeral.copy(out, offset);
  offset = out.writeUInt8(cookie?.length ?? 0, offset);
  if (cookie) offset += cookie.copy(out, offset);
  offset = out.writeUInt16BE(ciphertext.length, offset);
  ciphertext.copy(out, offset);
  // The rest stays zero: padding, so INIT is as large as any reply (RFC 9000 section 8.1 reasoning).
  return out;
}

export function encodeRetry(cid: Buffer, cookie: Buffer): Buffer {
  return Buffer.concat([Buffer.of(PacketType.RETRY), cid, cookie]);
}

export function encodeResponse(cid: Buffer, ephemeral: Buffer, ciphertext: Buffer): Buffer {
  return Buffer.concat([Buffer.of(PacketType.RESPONSE), cid, ephemeral, ciphertext]);
}

export function encodeReject(cid: Buffer, reason: number): Buffer {
  return Buffer.concat([Buffer.of(PacketType.REJECT), cid, Buffer.of(reason)]);
}

/** Builds the cleartext DATA header. It is also the AEAD associated data, so it cannot be altered. */
export function encodeDataHeader(cid: Buffer, packetNumber: number): Buffer {
  const header = Buffer.allocUnsafe(DATA_HEADER_LENGTH);
  header.writeUInt8(PacketType.DATA, 0);
  cid.copy(header, 1);
  header.writeUIntBE(packetNumber, 1 + CID_LENGTH, PN_LENGTH);
  return header;
}

/** Parses a datagram; returns null for anything malformed, which callers count and drop. */
export function parsePacket(datagram: Buffer): Packet | null {
  if (datagram.length < 1 + CID_LENGTH) return null;
  const type = datagram[0];
  const cid = datagram.subarray(1, 1 + CID_LENGTH);
  let offset = 1 + CID_LENGTH;
  switch (type) {
    case PacketType.INIT: {
      if (datagram.length < INIT_DATAGRAM_SIZE) return null;
      const version = datagram[offset++]!;
      const ephemeral = datagram.subarray(offset, offset + KEY_LENGTH);
      offset += KEY_LENGTH;
      const cookieLength = datagram[offset++]!;
      if (cookieLength !== 0 && cookieLength !== COOKIE_LENGTH) return null;
      const cookie = cookieLength === 0 ? null : datagram.subarray(offset, offset + cookieLength);
      offset += cookieLength;
      const ciphertextLength = datagram.readUInt16BE(offset);
      offset += 2;
      if (ciphertextLength < TAG_LENGTH || offset + ciphertextLength > datagram.length) return null;
      return { type, version, cid, ephemeral, cookie, ciphertext: datagram.subarray(offset, offset + ciphertextLength) };
    }
    case PacketType.RETRY:
      if (datagram.length !== offset + COOKIE_LENGTH) return null;
      return { type, cid, cookie: datagram.subarray(offset) };
    case PacketType.RESPONSE:
      if (datagram.length < offset + KEY_LENGTH + TAG_LENGTH) return null;
      return { type, cid, ephemeral: datagram.subarray(offset, offset + KEY_LENGTH), ciphertext: datagram.subarray(offset + KEY_LENGTH) };
    case PacketType.REJECT:
      if (datagram.length !== offset + 1) return null;
      return { type, cid, reason: datagram[offset]! };
    case PacketType.DATA: {
      if (datagram.length < DATA_HEADER_LENGTH + TAG_LENGTH || datagram.length > MAX_DATAGRAM_SIZE) return null;
      const packetNumber = datagram.readUIntBE(offset, PN_LENGTH);
      return { type, cid, packetNumber, header: datagram.subarray(0, DATA_HEADER_LENGTH), ciphertext: datagram.subarray(DATA_HEADER_LENGTH) };
    }
    default:
      return null;
  }
}
