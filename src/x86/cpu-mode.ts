/**
 * CPU operating modes and the defaults each one implies for decoding.
 *
 * Emulates: the mode a vCPU is in when it executes an I/O instruction: real, virtual-8086, 16- and 32-bit
 * protected (selected by CS.D), compatibility (long mode with CS.L = 0, again 16/32 by CS.D) and 64-bit.
 * Source of truth: Intel SDM vol. 1 §3.6 (operand and address size attributes), vol. 3 §20 (vm86).
 * Does not: model mode transitions; a mode is given by the caller at each exit.
 */

/** CPU mode at the faulting instruction. */
export const CpuMode = {
  REAL: 0,
  VM86: 1,
  PROTECTED16: 2,
  PROTECTED32: 3,
  COMPAT16: 4,
  COMPAT32: 5,
  LONG64: 6,
} as const;

/** One of the {@link CpuMode} values. */
export type CpuMode = (typeof CpuMode)[keyof typeof CpuMode];

/** Names accepted by the CLI for the five modes `vmport decode`/`vmport step` offer, mapped to the model. */
export const CLI_MODES: Readonly<Record<string, CpuMode>> = {
  real: CpuMode.REAL,
  vm86: CpuMode.VM86,
  "16": CpuMode.PROTECTED16,
  "32": CpuMode.PROTECTED32,
  "64": CpuMode.LONG64,
};

/** Human-readable mode names. */
export const CPU_MODE_NAMES: readonly string[] = ["real", "vm86", "protected16", "protected32", "compat16", "compat32", "long64"];

/** Default operand size in bytes (2 or 4). 64-bit mode defaults to 4 for I/O; REX.W would make others 8. */
export function defaultOperandSize(mode: CpuMode): 2 | 4 {
  return mode === CpuMode.PROTECTED32 || mode === CpuMode.COMPAT32 || mode === CpuMode.LONG64 ? 4 : 2;
}

/** Default address size in bytes (2, 4 or 8). */
export function defaultAddressSize(mode: CpuMode): 2 | 4 | 8 {
  return mode === CpuMode.LONG64 ? 8 : mode === CpuMode.PROTECTED32 || mode === CpuMode.COMPAT32 ? 4 : 2;
}

/** Address size selected by a 67h prefix. */
export function overriddenAddressSize(mode: CpuMode): 2 | 4 {
  return mode === CpuMode.LONG64 ? 4 : defaultAddressSize(mode) === 4 ? 2 : 4;
}

/** Width of the instruction pointer in bytes: IP, EIP or RIP. */
export function ipSize(mode: CpuMode): 2 | 4 | 8 {
  return defaultAddressSize(mode);
}
