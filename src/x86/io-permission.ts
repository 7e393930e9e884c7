/**
 * The rule that decides whether an IN/OUT/INS/OUTS is allowed or raises #GP(0), and whether RDPMC is allowed.
 *
 * Emulates: Intel SDM vol. 1 §19.5 and vol. 3 §20.2.8. Protected, compatibility and 64-bit mode: allowed when
 * CPL ≤ IOPL; otherwise every bit for ports `port … port+size-1` in the TSS bitmap must be clear (a port beyond
 * the bitmap, or no bitmap at all, is denied). Virtual-8086 mode: IOPL is *not* consulted for I/O; only the
 * bitmap decides. Real mode: always allowed. RDPMC (SDM "RDPMC"): allowed at CPL 0, in real mode, or when CR4.PCE
 * is set.
 * Does not: check the TSS limit separately (the bitmap's length stands for it).
 */
import { CpuMode } from "./cpu-mode.js";
import type { CpuState } from "./cpu-state.js";

/** True when `cpu` may access `size` bytes at `port` without a #GP. */
export function ioAllowed(cpu: CpuState, port: number, size: number): boolean {
  if (cpu.mode === CpuMode.REAL) return true;
  if (cpu.mode !== CpuMode.VM86 && cpu.cpl <= cpu.iopl) return true;
  return bitmapAllows(cpu.ioBitmap, port, size);
}

/** True when the TSS bitmap clears every bit for `port … port+size-1`. */
export function bitmapAllows(bitmap: Uint8Array | null, port: number, size: number): boolean {
  if (bitmap === null) return false;
  for (let p = port; p < port + size; p++) {
    const byte = p >>> 3;
    if (byte >= bitmap.length) return false;
    if ((bitmap[byte]! >>> (p & 7)) & 1) return false;
  }
  return true;
}

/** True when RDPMC is allowed by privilege (the counter number is checked separately). */
export function rdpmcAllowed(cpu: CpuState): boolean {
  return cpu.mode === CpuMode.REAL || cpu.cpl === 0 || cpu.cr4Pce;
}
