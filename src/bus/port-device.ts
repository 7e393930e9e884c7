/**
 * The interface a device on the I/O port bus implements, and the access record it receives.
 *
 * Emulates: an ISA-style I/O device as the bus sees it: a read and a write at an offset inside its range.
 * Source of truth: rust-vmm `vm-device` (offset-only devices), crosvm's bundled access info (`docs/architecture.md` §7).
 * Does not: know where it is mounted or which vCPU is "current"; everything arrives in the {@link PortAccess}.
 */
import type { RegisterFile } from "../x86/registers.js";

/** Width bit masks for {@link PortDevice.widths}. */
export const Width = { BYTE: 1, WORD: 2, DWORD: 4, ALL: 7 } as const;

/**
 * One port access. The bus reuses a single record per access path, so a device must not keep a reference to
 * it after the call returns.
 */
export interface PortAccess {
  /** Absolute port number. */
  port: number;
  /** Offset of {@link port} inside the device's range. */
  offset: number;
  /** Access size in bytes: 1, 2 or 4. */
  size: number;
  /**
   * The requesting vCPU's registers, for devices whose protocol lives in registers (the VMware backdoor).
   * The device may write registers other than RAX; RAX is written by the CPU from the returned value.
   * `null` when the access comes from a host or DMA path.
   */
  regs: RegisterFile | null;
  /** CPL of the requesting vCPU. */
  cpl: number;
  /** Requesting vCPU number. */
  vcpu: number;
}

/** A device on the port bus. Every method has a documented default in {@link PortBus}. */
export interface PortDevice {
  /** Label for traces and errors. */
  readonly label: string;
  /** Access sizes the device decodes, as a {@link Width} mask. Other sizes are answered as an empty port. */
  readonly widths: number;
  /** IN: return the value (the bus masks it to the access size). Default: all-ones. */
  read?(access: PortAccess): number;
  /** OUT: `value` is already masked to the access size. Default: ignored. */
  write?(access: PortAccess, value: number): void;
  /**
   * INS, in bulk: fill `dst` (count × size bytes, little-endian elements in transfer order).
   * Default: one {@link read} per element.
   */
  readBlock?(access: PortAccess, dst: Uint8Array): void;
  /** OUTS, in bulk: `src` holds count × size bytes in transfer order. Default: one {@link write} per element. */
  writeBlock?(access: PortAccess, src: Uint8Array): void;
}
