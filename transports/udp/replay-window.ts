// Anti-replay sliding window over received packet numbers, in the manner of IPsec ESP
// (RFC 4303 section 3.4.3): packet numbers above the highest seen are new, those within `size`
// below it are checked against a bitmap, older ones are rejected. Callers check before decrypting
// (cheap rejection) and mark only after the AEAD tag verified, so a forged datagram cannot
// consume a packet number.

export const DEFAULT_REPLAY_WINDOW = 2048;

export class ReplayWindow {
  private highest = -1;
  private readonly bits: Uint8Array;

  constructor(readonly size: number = DEFAULT_REPLAY_WINDOW) {
    if (!Number.isInteger(size) || size < 8 || size % 8 !== 0) throw new RangeError(`replay window size must be a positive multiple of 8, got ${size}`);
    this.bits = new Uint8Array(size / 8);
  }

  /** Returns whether `packetNumber` may be accepted: not seen yet and not older than the window. */
  check(packetNumber: number): boolean {
    if (packetNumber > this.highest) return true;
    if (this.highest - packetNumber >= this.size) return false;
    return !this.isSet(packetNumber);
  }

  /** Records a packet number whose datagram authenticated. */
  mark(packetNumber: number): void {
    if (packetNumber > this.highest) {
      // Clear the slots that the window slides over, so stale bits from size packets ago vanish.
      const advance = this.highest < 0 ? this.size : Math.min(packetNumber - this.highest, this.size);
      for (let i = 1; i <= advance; i++) this.clear(packetNumber - advance + i);
      this.highest = packetNumber;
    }
    this.set(packetNumber);
  }

  private slot(packetNumber: number): [number, number] {
    const index = packetNumber % this.size;
    return [index >>> 3, 1 << (index & 7)];
  }

  private isSet(packetNumber: number): boolean {
    const [byte, mask] = this.slot(packetNumber);
    return (this.bits[byte]! & mask) !== 0;
  }

  private set(packetNumber: number): void {
    const [byte, mask] = this.slot(packetNumber);
    this.bits[byte]! |= mask;
  }

  private clear(packetNumber: number): void {
    if (packetNumber < 0) return;
    const [byte, mask] = this.slot(packetNumber);
    this.bits[byte]! &= ~mask;
  }
}
