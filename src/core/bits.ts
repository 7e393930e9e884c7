/**
 * Small integer helpers shared by every layer.
 *
 * Emulates: nothing. Registers are held as unsigned 32-bit halves; these helpers keep every value normalised
 * (`>>> 0`) so a register never silently becomes negative or wider than 32 bits.
 * Does not: do 64-bit arithmetic on the hot path (see `x86/registers.ts`, which keeps lo/hi halves).
 */

/** 2^32 as a number. */
export const TWO_POW_32 = 0x1_0000_0000;

/** All-ones for an access of `size` bytes (1, 2 or 4): what an empty port reads. */
export function allOnes(size: number): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
}

/** Format an unsigned value (number ≤ 2^53 or bigint) as `0x` + `digits` lowercase hex digits. */
export function hex(value: number | bigint, digits = 8): string {
  const v = typeof value === "bigint" ? value : BigInt(value);
  return "0x" + v.toString(16).padStart(digits, "0");
}

/** Combine two unsigned 32-bit halves into a bigint. */
export function toBigInt64(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Parse a byte string written as hex pairs, with or without spaces (`"66 ed"`, `"66ed"`). Returns null if malformed. */
export function parseHexBytes(text: string): Uint8Array | null {
  const compact = text.replace(/\s+/g, "");
  if (compact.length === 0 || compact.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(compact)) return null;
  const out = new Uint8Array(compact.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(compact.slice(2 * i, 2 * i + 2), 16);
  return out;
}
