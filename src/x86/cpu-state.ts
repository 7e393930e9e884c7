/**
 * The vCPU state a hypervisor has at a #GP exit: registers, mode, privilege, segment bases, I/O bitmap.
 *
 * Emulates: the parts of a VMCS/VMCB the backdoor intercept reads — CS.DPL (CPL), RFLAGS (IOPL, DF, VM), the
 * linear bases of ES/CS/SS/DS/FS/GS, CR4.PCE and the TSS I/O-permission bitmap.
 * Source of truth: Intel SDM vol. 1 §19.5 (I/O permission bit map), vol. 3 §4.5 / §3.4.4 (segment bases in 64-bit
 * mode: only FS and GS bases apply).
 * Does not: model segment limits or access rights (no #GP/#SS from a segment-limit check), paging (the
 * {@link GuestMemory} given with the exit translates linear addresses), or 16-bit IP wrap inside one instruction.
 */
import { RegisterFile, Reg, Flags } from "./registers.js";
import { CpuMode } from "./cpu-mode.js";

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
  /** Segment bases ES, CS, SS, DS, FS, GS (default all 0). */
  segBase?: readonly number[];
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
  /** Linear base of each segment, indexed by {@link Seg}. */
  readonly segBase: Float64Array;
  /** TSS I/O-permission bitmap (bit set = denied), or null when the TSS has none. */
  ioBitmap: Uint8Array | null;
  /** CR4.PCE. */
  cr4Pce: boolean;
  /** vCPU number. */
  vcpu: number;

  constructor(init: CpuStateInit = {}) {
    this.mode = init.mode ?? CpuMode.LONG64;
    this.cpl = this.mode === CpuMode.REAL ? 0 : this.mode === CpuMode.VM86 ? 3 : (init.cpl ?? 3);
    this.regs = init.regs ?? new RegisterFile();
    if (!init.regs) this.regs.setLo(Reg.RFLAGS, Flags.RESERVED1);
    if (this.mode === CpuMode.VM86) this.regs.setLo(Reg.RFLAGS, this.regs.lo(Reg.RFLAGS) | Flags.VM);
    this.segBase = new Float64Array(6);
    if (init.segBase) for (let i = 0; i < 6; i++) this.segBase[i] = init.segBase[i] ?? 0;
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

  /**
   * Linear base used for segment `seg`. In 64-bit mode only FS and GS have a base; the others are 0
   * (SDM vol. 3 §3.4.4).
   */
  effectiveBase(seg: number): number {
    if (this.mode === CpuMode.LONG64 && seg !== Seg.FS && seg !== Seg.GS) return 0;
    return this.segBase[seg]!;
  }

  /** Linear address of the instruction pointer: CS.base + IP/EIP/RIP. */
  linearIp(): number {
    const w = this.regs.words;
    if (this.mode === CpuMode.LONG64) return w[Reg.RIP * 2 + 1] === 0 ? w[Reg.RIP * 2]! : this.regs.getNumber(Reg.RIP);
    const ip = w[Reg.RIP * 2]!;
    switch (this.mode) {
      case CpuMode.PROTECTED32:
      case CpuMode.COMPAT32:
        return this.segBase[Seg.CS]! + ip;
      default:
        return this.segBase[Seg.CS]! + (ip & 0xffff);
    }
  }

  /** A deep copy (registers, bases and bitmap reference). */
  clone(): CpuState {
    return new CpuState({
      mode: this.mode,
      cpl: this.cpl,
      regs: this.regs.clone(),
      segBase: Array.from(this.segBase),
      ioBitmap: this.ioBitmap,
      cr4Pce: this.cr4Pce,
      vcpu: this.vcpu,
    });
  }
}
