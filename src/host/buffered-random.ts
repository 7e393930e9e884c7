/**
 * A CSPRNG for the engine's message-channel cookies that asks the operating system for randomness a block at a
 * time: one Web Crypto `getRandomValues` call costs several microseconds whatever its size, and a guest opens a
 * channel for every RPC (`vmport run`'s HB exchanges: about 5 µs of 65 per exchange went there).
 *
 * Emulates: nothing (the VMX's unpredictable cookies, as `core/random.ts`). Source of truth: `core/random.ts`.
 * The bytes are the same CSPRNG output, served in order and never twice.
 * Does not: reseed (the OS generator behind `getRandomValues` is the source of every block).
 */
import { webcrypto } from "node:crypto";
import type { RandomSource } from "../core/random.js";

/** Bytes fetched per call to the OS generator: 512 channel cookies. */
export const RANDOM_BLOCK_BYTES = 4096;

/** A {@link RandomSource} that refills from `crypto.getRandomValues` one block at a time. */
export class BufferedRandom implements RandomSource {
  private readonly block = new Uint8Array(RANDOM_BLOCK_BYTES);
  private pos = RANDOM_BLOCK_BYTES;

  /** Fill `buf` with CSPRNG bytes, refilling the block from `crypto.getRandomValues` when it runs out. */
  fill(buf: Uint8Array): void {
    let o = 0;
    while (o < buf.length) {
      if (this.pos === this.block.length) {
        webcrypto.getRandomValues(this.block);
        this.pos = 0;
      }
      buf[o++] = this.block[this.pos]!;
      this.block[this.pos++] = 0; // a served byte does not stay in memory
    }
  }
}
