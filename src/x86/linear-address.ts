/**
 * Linear addresses over the whole 64-bit range, as two unsigned 32-bit halves (`lo`, `hi`).
 *
 * Emulates: the linear address spaces an x86 vCPU can be in. Outside 64-bit mode linear addresses are 32 bits and
 * wrap at 2^32. In 64-bit mode they are 64 bits, wrap at 2^64 and must be canonical: bits 63…47 all equal (48-bit
 * linear addresses, 4-level paging), or bits 63…56 all equal with CR4.LA57 (5-level paging); touching a
 * non-canonical address raises #GP(0).
 * Source of truth: Intel SDM vol. 1 §3.3.7.1 (canonical addressing), vol. 3 §4.5 (4- and 5-level paging), §3.4.4
 * (segment bases in 64-bit mode).
 * Does not: translate anything; {@link GuestMemory} implementations do.
 *
 * Why halves: a JavaScript number is exact only below 2^53, and the upper canonical half that 64-bit kernels use
 * (0xFFFF8000_00000000 and up) lies far above it. Halves keep every address exact without a bigint on the hot
 * path. Every canonical boundary (2^47, 2^56, 2^64 − 2^47, 2^64 − 2^56) and the 32-bit wrap are multiples of
 * 2^32, so whether an address is canonical depends on `hi` alone, and an access that stays inside one 4 GiB block
 * (one value of `hi`) is either wholly canonical or wholly not.
 */

/** The linear address space of a vCPU. */
export const AddressSpace = {
  /** Real, vm86, 16- and 32-bit protected, compatibility mode: 32-bit linear addresses, wrapping at 2^32. */
  FLAT32: 0,
  /** 64-bit mode, 4-level paging: canonical 48-bit addresses. */
  CANONICAL48: 1,
  /** 64-bit mode, 5-level paging (CR4.LA57): canonical 57-bit addresses. */
  CANONICAL57: 2,
} as const;
/** One of the {@link AddressSpace} values. */
export type AddressSpace = (typeof AddressSpace)[keyof typeof AddressSpace];

/** Size of a 4 GiB block: the unit inside which a {@link GuestMemory} access stays (its `hi` is constant). */
export const BLOCK_SIZE = 0x1_0000_0000;

/**
 * True when every address whose high half is `hi` may be used in `space`: always in {@link AddressSpace.FLAT32}
 * (callers keep `hi` = 0 there), otherwise when the address is canonical.
 */
export function blockUsable(hi: number, space: AddressSpace): boolean {
  if (space === AddressSpace.FLAT32) return true;
  const top = (hi | 0) >> (space === AddressSpace.CANONICAL48 ? 15 : 24); // bits 47…63 or 56…63, sign-filled
  return top === 0 || top === -1;
}

/** The address `hi:lo` as a bigint. */
export function addressToBigInt(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Low half of an address given as a number (a safe integer) or a bigint, taken modulo 2^64. */
export function addressLo(a: number | bigint): number {
  if (typeof a === "bigint") return Number(BigInt.asUintN(32, a));
  checkSafe(a);
  return a >>> 0;
}

/** High half of an address given as a number (a safe integer) or a bigint, taken modulo 2^64. */
export function addressHi(a: number | bigint): number {
  if (typeof a === "bigint") return Number(BigInt.asUintN(64, a) >> 32n);
  checkSafe(a);
  return Number(BigInt.asUintN(64, BigInt(a)) >> 32n);
}

function checkSafe(a: number): void {
  if (!Number.isSafeInteger(a)) throw new RangeError(`address ${a} is not an integer below 2^53; pass a bigint`);
}
