// Address-validation cookies for the RETRY exchange: a stateless proof that the client receives
// datagrams at the address it sends from, checked before the server spends any X25519 work.
// The idea follows WireGuard's cookie reply and QUIC's Retry token (RFC 9000 section 8.1.2).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../src/clock.js';
import { COOKIE_LENGTH } from './packet.js';

/** A cookie is valid in the period it was made and the next one: 30 to 60 seconds. */
const COOKIE_PERIOD_MS = 30_000;

export class CookieJar {
  private readonly secret = randomBytes(32);

  constructor(private readonly clock: Clock) {}

  make(address: string, port: number, cid: Buffer, ephemeral: Buffer): Buffer {
    return this.compute(address, port, cid, ephemeral, Math.floor(this.clock.now() / COOKIE_PERIOD_MS));
  }

  verify(cookie: Buffer, address: string, port: number, cid: Buffer, ephemeral: Buffer): boolean {
    const period = Math.floor(this.clock.now() / COOKIE_PERIOD_MS);
    for (const candidate of [period, period - 1]) {
      if (timingSafeEqual(cookie, this.compute(address, port, cid, ephemeral, candidate))) return true;
    }
    return false;
  }

  private compute(address: string, port: number, cid: Buffer, ephemeral: Buffer, period: number): Buffer {
    const mac = createHmac('sha256', this.secret);
    mac.update(`${address}|${port}|${period}|`);
    mac.update(cid);
    mac.update(ephemeral);
    return mac.digest().subarray(0, COOKIE_LENGTH);
  }
}
