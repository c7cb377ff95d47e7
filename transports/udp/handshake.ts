// The handshake: a one-round-trip key exchange shaped like the Noise NK pattern (the client knows
// the server's static key in advance):
//   pre-message   <- s
//   INIT          -> e, es, payload
//   RESPONSE      <- e, ee, payload
// X25519 (RFC 7748) for every Diffie-Hellman, HKDF-SHA256 (RFC 5869) for every derivation, a
// SHA-256 transcript hash `h` bound into each AEAD as associated data and into the traffic keys.
// Only the holder of the static private key can derive the RESPONSE key, because it depends on es,
// so a valid RESPONSE authenticates the server. The traffic keys also depend on ee, so an attacker
// who records traffic and steals the static key later still cannot decrypt it (forward secrecy).
import { createHash, hkdfSync, type KeyObject } from 'node:crypto';
import { generateX25519, x25519, type X25519KeyPair } from './keys.js';
import { PROTOCOL_VERSION } from './packet.js';
import { IV_LENGTH, open, seal, type TrafficKeys } from './protection.js';

const PROTOCOL_NAME = Buffer.from('pushlab-udp-v1 NK X25519 ChaChaPoly SHA256');
const MIX_INFO = Buffer.from('pushlab-udp mix');
const TRAFFIC_INFO = Buffer.from('pushlab-udp traffic');
const ZERO_NONCE = Buffer.alloc(IV_LENGTH);

/** Transport parameters each side announces inside its encrypted handshake payload. */
export interface HandshakeParams {
  /** Frame fragments the sender may have unacknowledged towards this side. */
  receiveWindow: number;
}

function sha256(...parts: Uint8Array[]): Buffer {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/** Mixes a DH output into the chaining key; returns the new chaining key and a message key. */
function mixKey(chainingKey: Buffer, dh: Buffer): { chainingKey: Buffer; key: Buffer } {
  const okm = Buffer.from(hkdfSync('sha256', dh, chainingKey, MIX_INFO, 64));
  return { chainingKey: okm.subarray(0, 32), key: okm.subarray(32) };
}

/**
 * Derives the four traffic secrets from the final chaining key, with the whole transcript hash as
 * HKDF info, so both sides agree on the keys only if they saw the same handshake.
 */
function splitTrafficKeys(chainingKey: Buffer, transcript: Buffer, role: 'client' | 'server'): TrafficKeys {
  const okm = Buffer.from(hkdfSync('sha256', Buffer.alloc(0), chainingKey, Buffer.concat([TRAFFIC_INFO, transcript]), 2 * (32 + IV_LENGTH)));
  const clientKey = okm.subarray(0, 32);
  const clientIv = okm.subarray(32, 32 + IV_LENGTH);
  const serverKey = okm.subarray(32 + IV_LENGTH, 64 + IV_LENGTH);
  const serverIv = okm.subarray(64 + IV_LENGTH);
  return role === 'client'
    ? { sendKey: clientKey, sendIv: clientIv, receiveKey: serverKey, receiveIv: serverIv }
    : { sendKey: serverKey, sendIv: serverIv, receiveKey: clientKey, receiveIv: clientIv };
}

function encodeParams(params: HandshakeParams): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(params.receiveWindow, 0);
  return out;
}

/** Extra trailing bytes are ignored, so a later version can append parameters. */
function decodeParams(payload: Buffer): HandshakeParams | null {
  if (payload.length < 4) return null;
  const receiveWindow = payload.readUInt32BE(0);
  return receiveWindow >= 1 ? { receiveWindow } : null;
}

/** Hash state after the pre-message and the INIT's cleartext fields, shared by both roles. */
function initTranscript(serverStatic: Uint8Array, cid: Uint8Array, clientEphemeral: Uint8Array): { h: Buffer; ck: Buffer } {
  const h0 = sha256(PROTOCOL_NAME);
  let h = sha256(h0, serverStatic);
  h = sha256(h, cid, Buffer.of(PROTOCOL_VERSION));
  h = sha256(h, clientEphemeral);
  return { h, ck: h0 };
}

export interface ClientInit {
  ephemeral: X25519KeyPair;
  ciphertext: Buffer;
  h: Buffer;
  ck: Buffer;
}

/** Builds the INIT message; returns null when the pinned key is a low-order point. */
export function createClientInit(serverStatic: Buffer, cid: Buffer, params: HandshakeParams): ClientInit | null {
  const ephemeral = generateX25519();
  const transcript = initTranscript(serverStatic, cid, ephemeral.publicRaw);
  const es = x25519(ephemeral.privateKey, serverStatic);
  if (!es) return null;
  const mixed = mixKey(transcript.ck, es);
  const ciphertext = seal(mixed.key, ZERO_NONCE, transcript.h, encodeParams(params));
  return { ephemeral, ciphertext, h: sha256(transcript.h, ciphertext), ck: mixed.chainingKey };
}

export interface HandshakeResult {
  keys: TrafficKeys;
  peer: HandshakeParams;
}

/** Completes the handshake from a RESPONSE; null when it does not authenticate. */
export function finishClientHandshake(init: ClientInit, serverEphemeral: Buffer, ciphertext: Buffer): HandshakeResult | null {
  const h = sha256(init.h, serverEphemeral);
  const ee = x25519(init.ephemeral.privateKey, serverEphemeral);
  if (!ee) return null;
  const mixed = mixKey(init.ck, ee);
  const payload = open(mixed.key, ZERO_NONCE, h, ciphertext);
  if (!payload) return null;
  const peer = decodeParams(payload);
  if (!peer) return null;
  return { keys: splitTrafficKeys(mixed.chainingKey, sha256(h, ciphertext), 'client'), peer };
}

export type ServerHandshakeOutcome =
  | { kind: 'rejected' }
  | { kind: 'accepted'; ephemeralPublic: Buffer; ciphertext: Buffer; result: HandshakeResult };

/** Processes an INIT with the static key and, when it authenticates, builds the RESPONSE. */
export function acceptClientInit(
  staticKey: { privateKey: KeyObject; publicRaw: Buffer },
  cid: Buffer,
  clientEphemeral: Buffer,
  initCiphertext: Buffer,
  params: HandshakeParams,
): ServerHandshakeOutcome {
  const transcript = initTranscript(staticKey.publicRaw, cid, clientEphemeral);
  const es = x25519(staticKey.privateKey, clientEphemeral);
  if (!es) return { kind: 'rejected' };
  const first = mixKey(transcript.ck, es);
  const payload = open(first.key, ZERO_NONCE, transcript.h, initCiphertext);
  const peer = payload ? decodeParams(payload) : null;
  if (!peer) return { kind: 'rejected' };

  const ephemeral = generateX25519();
  const h = sha256(sha256(transcript.h, initCiphertext), ephemeral.publicRaw);
  const ee = x25519(ephemeral.privateKey, clientEphemeral);
  if (!ee) return { kind: 'rejected' };
  const second = mixKey(first.chainingKey, ee);
  const ciphertext = seal(second.key, ZERO_NONCE, h, encodeParams(params));
  const keys = splitTrafficKeys(second.chainingKey, sha256(h, ciphertext), 'server');
  return { kind: 'accepted', ephemeralPublic: ephemeral.publicRaw, ciphertext, result: { keys, peer } };
}
