/**
 * Little-endian packing of up to four bytes into one 32-bit register value and back: how every backdoor command
 * that moves bytes through a register does it (message payloads, the legacy clipboard, port data).
 *
 * Emulates: nothing; x86 is little-endian, so byte k of a register is bits 8k…8k+7.
 * Does not: allocate, except {@link le32Bytes} (for code and image builders, not for the hot path).
 */

/** The first `n` (≤ 4) bytes of `src` at `off` as a little-endian u32; bytes past the end of `src` count as 0. */
export function packLe32(src: ArrayLike<number>, off: number, n = 4): number {
  let v = 0;
  for (let k = 0; k < n && off + k < src.length; k++) v |= src[off + k]! << (8 * k);
  return v >>> 0;
}

/** `word` as four little-endian bytes, in a new array (an imm32 in machine code, a field of an ELF header). */
export function le32Bytes(word: number): number[] {
  const b = new Uint8Array(4);
  unpackLe32(word, b, 0);
  return Array.from(b);
}

/** Write the low `n` (≤ 4) bytes of `word` to `dst` at `off`, little-endian, stopping at the end of `dst`. */
export function unpackLe32(word: number, dst: Uint8Array, off: number, n = 4): void {
  for (let k = 0; k < n && off + k < dst.length; k++) dst[off + k] = (word >>> (8 * k)) & 0xff;
}
