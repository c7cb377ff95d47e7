// ChaCha20-Poly1305 (RFC 8439) sealing of handshake payloads and DATA packets.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { TAG_LENGTH } from './packet.js';

const AEAD = 'chacha20-poly1305';
export const IV_LENGTH = 12;

/** Encrypts and authenticates `plaintext`; returns ciphertext followed by the 16-byte tag. */
export function seal(key: Buffer, nonce: Buffer, aad: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = createCipheriv(AEAD, key, nonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const body = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([body, cipher.getAuthTag()]);
}

/** Verifies and decrypts ciphertext-with-tag; returns null when authentication fails. */
export function open(key: Buffer, nonce: Buffer, aad: Uint8Array, sealed: Uint8Array): Buffer | null {
  if (sealed.length < TAG_LENGTH) return null;
  const ciphertextLength = sealed.length - TAG_LENGTH;
  const decipher = createDecipheriv(AEAD, key, nonce, { authTagLength: TAG_LENGTH });
  decipher.setAuthTag(sealed.subarray(ciphertextLength));
  decipher.setAAD(aad, { plaintextLength: ciphertextLength });
  const body = decipher.update(sealed.subarray(0, ciphertextLength));
  try {
    decipher.final();
  } catch {
    return null;
  }
  return body;
}

/**
 * Builds the per-packet nonce: the direction's 12-byte IV XORed with the packet number, as TLS 1.3
 * does (RFC 8446 section 5.3). Packet numbers never repeat within a direction, so neither do nonces.
 */
export function packetNonce(iv: Buffer, packetNumber: number): Buffer {
  const nonce = Buffer.from(iv);
  const high = Math.floor(packetNumber / 2 ** 32);
  const low = packetNumber >>> 0;
  nonce.writeUInt32BE((nonce.readUInt32BE(4) ^ high) >>> 0, 4);
  nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ low) >>> 0, 8);
  return nonce;
}

/** Traffic keys of one connection, already oriented: `send*` protects what this side sends. */
export interface TrafficKeys {
  sendKey: Buffer;
  sendIv: Buffer;
  receiveKey: Buffer;
  receiveIv: Buffer;
}

export class PacketProtection {
  constructor(private readonly keys: TrafficKeys) {}

  sealPacket(packetNumber: number, header: Buffer, plaintext: Uint8Array): Buffer {
    return seal(this.keys.sendKey, packetNonce(this.keys.sendIv, packetNumber), header, plaintext);
  }

  openPacket(packetNumber: number, header: Buffer, sealed: Buffer): Buffer | null {
    return open(this.keys.receiveKey, packetNonce(this.keys.receiveIv, packetNumber), header, sealed);
  }
}
