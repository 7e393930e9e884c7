/**
 * Random bytes for the engine (message-channel cookies).
 *
 * Emulates: the VMX's unpredictable channel cookies, which keep one guest process from talking on another's
 * channel. Source of truth: open-vm-tools `lib/include/guest_msg_def.h` (`GUESTMSG_FLAG_COOKIE`).
 * Does not: import Node; the default uses Web Crypto's `getRandomValues`, present in Node ≥ 19 and browsers.
 * Tests inject a deterministic source.
 */

/** Fills buffers with random bytes. */
export interface RandomSource {
  /** Fill `buf` entirely. */
  fill(buf: Uint8Array): void;
}

interface WebCrypto {
  getRandomValues(buf: Uint8Array): Uint8Array;
}

/** A CSPRNG from Web Crypto (`globalThis.crypto.getRandomValues`). */
export const cryptoRandom: RandomSource = {
  fill(buf: Uint8Array): void {
    const c = (globalThis as { crypto?: WebCrypto }).crypto;
    if (c === undefined) throw new Error("no Web Crypto getRandomValues in this runtime");
    c.getRandomValues(buf);
  },
};

/** A deterministic source (xorshift32) for tests and reproducible runs. Not for production cookies. */
export class SeededRandom implements RandomSource {
  private s: number;
  /** Start from `seed` (0 is replaced by 1: xorshift never leaves 0). */
  constructor(seed = 0x12345678) {
    this.s = seed >>> 0 || 1;
  }
  /** Fill `buf` with the next xorshift32 bytes (the same sequence for the same seed). */
  fill(buf: Uint8Array): void {
    for (let i = 0; i < buf.length; i++) {
      let x = this.s;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.s = x >>> 0;
      buf[i] = this.s & 0xff;
    }
  }
}
