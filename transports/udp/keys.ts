// X25519 keys (RFC 7748) as node:crypto KeyObjects, converted from and to the 32-byte raw form
// that the settings and the wire carry.
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, KeyObject } from 'node:crypto';
import { ConfigError } from '../../src/errors.js';
import { KEY_LENGTH } from './packet.js';

// DER prefixes of a PKCS#8 private key and an SPKI public key for X25519 (OID 1.3.101.110,
// RFC 8410 sections 4 and 7). The 32 raw key bytes follow each prefix.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

export interface X25519KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The 32-byte public key as sent on the wire. */
  publicRaw: Buffer;
}

/** A static key pair in the raw forms the settings accept (base64url text). */
export interface UdpStaticKeyPair {
  /** For the listener's settings.staticPrivateKey. */
  privateKey: string;
  /** For the dialer's settings.serverPublicKey. */
  publicKey: string;
}

export function generateX25519(): X25519KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey, publicKey, publicRaw: rawPublicKey(publicKey) };
}

/** Generates a server static key pair; store the private key as a secret and pin the public key in clients. */
export function generateUdpKeyPair(): UdpStaticKeyPair {
  const { privateKey, publicRaw } = generateX25519();
  const privateRaw = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length);
  return { privateKey: privateRaw.toString('base64url'), publicKey: publicRaw.toString('base64url') };
}

export function rawPublicKey(publicKey: KeyObject): Buffer {
  return publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
}

function rawBytes(value: Uint8Array | string, setting: string): Buffer {
  // Node's base64 decoder accepts both the standard and the URL-safe alphabet.
  const bytes = typeof value === 'string' ? Buffer.from(value, 'base64') : Buffer.from(value);
  if (bytes.length !== KEY_LENGTH) {
    throw new ConfigError(`udp setting "${setting}" must be ${KEY_LENGTH} raw bytes or their base64 text, got ${bytes.length} bytes`);
  }
  return bytes;
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function parseStaticPrivateKey(value: Uint8Array | string | KeyObject | undefined): X25519KeyPair {
  if (value === undefined) throw new ConfigError('udp listener needs settings.staticPrivateKey (X25519, 32 bytes); see generateUdpKeyPair()');
  let privateKey: KeyObject;
  if (value instanceof KeyObject) {
    if (value.type !== 'private' || value.asymmetricKeyType !== 'x25519') {
      throw new ConfigError(`udp setting "staticPrivateKey" must be an X25519 private key, got a ${value.asymmetricKeyType ?? value.type} key`);
    }
    privateKey = value;
  } else {
    const raw = rawBytes(value, 'staticPrivateKey');
    privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicRaw: rawPublicKey(publicKey) };
}

export function parseServerPublicKey(value: Uint8Array | string | undefined): Buffer {
  if (value === undefined) throw new ConfigError('udp dial needs settings.serverPublicKey (the pinned X25519 public key of the server)');
  return rawBytes(value, 'serverPublicKey');
}

/**
 * X25519 shared secret. Returns null when the result is all zeros: RFC 7748 section 6.1 lets a
 * party abort then, because the peer sent a low-order point and the secret carries no entropy.
 */
export function x25519(privateKey: KeyObject, peerPublicRaw: Uint8Array): Buffer | null {
  let secret: Buffer;
  try {
    secret = diffieHellman({ privateKey, publicKey: publicKeyFromRaw(peerPublicRaw) });
  } catch {
    return null;
  }
  let accumulated = 0;
  for (const byte of secret) accumulated |= byte;
  return accumulated === 0 ? null : secret;
}
