/**
 * The vCPU state a hypervisor has at a #GP exit: registers, mode, privilege, segment bases, I/O bitmap.
 *
 * Emulates: the parts of a VMCS/VMCB the backdoor intercept reads — CS.DPL (CPL), RFLAGS (IOPL, DF, VM), the
 * linear bases of ES/CS/SS/DS/FS/GS, CR4.PCE and the TSS I/O-permission bitmap.
 * Source of truth: Intel SDM vol. 1 §19.5 (I/O permission bit map), vol. 3 §4.5 / §3.4.4 (segment bases in 64-bit
 * mode: only FS and GS bases apply; CR4.LA57 selects 57-bit canonical addresses).
 * Does not: model segment limits or access rights (no #GP/#SS from a segment-limit check), paging (the
 * {@link GuestMemory} given with the exit translates linear addresses), or 16-bit IP wrap inside one instruction.
 *
 * Segment bases are exact 64-bit values, held like registers as unsigned 32-bit halves. Outside 64-bit mode only
 * their low 32 bits count (linear addresses are 32 bits there).
 */
import { RegisterFile, Reg, Flags } from "./registers.js";
import { CpuMode } from "./cpu-mode.js";
import { AddressSpace, addressHi, addressLo, addressToBigInt } from "./linear-address.js";

/** Segment register numbers, in the hardware encoding order. */
export const Seg = { ES: 0, CS: 1, SS: 2, DS: 3, FS: 4, GS: 5 } as const;

/** A segment register number (0…5). */
export type SegNumber = (typeof Seg)[keyof typeof Seg];

/** Segment register names indexed by number. */
export const SEG_NAMES: readonly string[] = ["es", "cs", "ss", "ds", "fs", "gs"];

/** What {@link CpuState} is built from; every field has a documented default. */
export interface CpuStateInit {
  /** CPU mode (default 64-bit). */
  mode?: CpuMode;
  /** Current privilege level 0–3 (default 3; forced 0 in real mode, 3 in vm86). */
  cpl?: number;
  /** Initial registers (default all zero, RFLAGS = 0x2). */
  regs?: RegisterFile;
  /** Segment bases ES, CS, SS, DS, FS, GS: safe-integer numbers or bigints, modulo 2^64 (default all 0). */
  segBase?: readonly (number | bigint)[];
  /** CR4.LA57: 5-level paging, 57-bit canonical addresses in 64-bit mode (default false: 48-bit). */
  la57?: boolean;
  /** TSS I/O-permission bitmap: bit set = port denied. `null` (default) = no bitmap, every port denied above IOPL. */
  ioBitmap?: Uint8Array | null;
  /** CR4.PCE: RDPMC allowed at CPL > 0 (default false). */
  cr4Pce?: boolean;
  /** vCPU number for traces (default 0). */
  vcpu?: number;
}

/** A vCPU at an exit. Mutable: emulation writes registers back here. */
export class CpuState {
  /** General-purpose registers, RIP, RFLAGS. */
  readonly regs: RegisterFile;
  /** CPU mode. */
  mode: CpuMode;
  /** Current privilege level. */
  cpl: number;
  /** Linear base of each segment as `[lo, hi]` halves: segment `s` is words `2s`, `2s + 1` (see {@link setSegBase}). */
  readonly segBaseWords: Uint32Array;
  /** CR4.LA57 (57-bit canonical addresses in 64-bit mode). */
  la57: boolean;
  /** TSS I/O-permission bitmap (bit set = denied), or null when the TSS has none. */
  ioBitmap: Uint8Array | null;
  /** CR4.PCE. */
  cr4Pce: boolean;
  /** vCPU number. */
  vcpu: number;

  /** A vCPU from `init`; every field left out takes its default (64-bit mode; CPL 0 in real mode, else 3; no TSS bitmap). */
  constructor(init: CpuStateInit = {}) {
    this.mode = init.mode ?? CpuMode.LONG64;
    this.cpl = this.mode === CpuMode.REAL ? 0 : this.mode === CpuMode.VM86 ? 3 : (init.cpl ?? 3);
    this.regs = init.regs ?? new RegisterFile();
    if (!init.regs) this.regs.setLo(Reg.RFLAGS, Flags.RESERVED1);
    if (this.mode === CpuMode.VM86) this.regs.setLo(Reg.RFLAGS, this.regs.lo(Reg.RFLAGS) | Flags.VM);
    this.segBaseWords = new Uint32Array(12);
    if (init.segBase) for (let i = 0; i < 6; i++) this.setSegBase(i, init.segBase[i] ?? 0);
    this.la57 = init.la57 ?? false;
    this.ioBitmap = init.ioBitmap ?? null;
    this.cr4Pce = init.cr4Pce ?? false;
    this.vcpu = init.vcpu ?? 0;
  }

  /** RFLAGS.IOPL. */
  get iopl(): number {
    return (this.regs.lo(Reg.RFLAGS) & Flags.IOPL_MASK) >>> Flags.IOPL_SHIFT;
  }

  /** RFLAGS.DF. */
  get df(): boolean {
    return (this.regs.lo(Reg.RFLAGS) & Flags.DF) !== 0;
  }

  /** Set the base of segment `seg` (a safe-integer number or a bigint, modulo 2^64). */
  setSegBase(seg: number, base: number | bigint): void {
    this.segBaseWords[seg * 2] = addressLo(base);
    this.segBaseWords[seg * 2 + 1] = addressHi(base);
  }

  /** The base of segment `seg` as stored (all 64 bits). */
  segBase(seg: number): bigint {
    return addressToBigInt(this.segBaseWords[seg * 2]!, this.segBaseWords[seg * 2 + 1]!);
  }

  /**
   * Linear base used for segment `seg`: in 64-bit mode only FS and GS have a base, the others are 0
   * (SDM vol. 3 §3.4.4); outside 64-bit mode the low 32 bits.
   */
  effectiveBase(seg: number): bigint {
    if (this.mode === CpuMode.LONG64) return seg === Seg.FS || seg === Seg.GS ? this.segBase(seg) : 0n;
    return BigInt(this.segBaseWords[seg * 2]!);
  }

  /** The linear address space: 32-bit outside 64-bit mode, else canonical 48- or 57-bit (CR4.LA57). */
  addressSpace(): AddressSpace {
    if (this.mode !== CpuMode.LONG64) return AddressSpace.FLAT32;
    return this.la57 ? AddressSpace.CANONICAL57 : AddressSpace.CANONICAL48;
  }

  /**
   * Low half of the linear address of the instruction pointer: RIP in 64-bit mode, else (CS.base + EIP, or + IP in
   * 16-bit modes) modulo 2^32.
   */
  linearIpLo(): number {
    const w = this.regs.words;
    const ip = w[Reg.RIP * 2]!;
    switch (this.mode) {
      case CpuMode.LONG64:
        return ip;
      case CpuMode.PROTECTED32:
      case CpuMode.COMPAT32:
        return (this.segBaseWords[Seg.CS * 2]! + ip) >>> 0;
      default:
        return (this.segBaseWords[Seg.CS * 2]! + (ip & 0xffff)) >>> 0;
    }
  }

  /** High half of the linear address of the instruction pointer (0 outside 64-bit mode). */
  linearIpHi(): number {
    return this.mode === CpuMode.LONG64 ? this.regs.words[Reg.RIP * 2 + 1]! : 0;
  }

  /** Linear address of the instruction pointer, exact: {@link linearIpHi}:{@link linearIpLo}. */
  linearIp(): bigint {
    return addressToBigInt(this.linearIpLo(), this.linearIpHi());
  }

  /** A deep copy (registers, bases and bitmap reference). */
  clone(): CpuState {
    return new CpuState({
      mode: this.mode,
      cpl: this.cpl,
      regs: this.regs.clone(),
      segBase: [0, 1, 2, 3, 4, 5].map((i) => this.segBase(i)),
      la57: this.la57,
      ioBitmap: this.ioBitmap,
      cr4Pce: this.cr4Pce,
      vcpu: this.vcpu,
    });
  }
}
