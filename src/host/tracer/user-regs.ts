/**
 * `user_regs_struct` (what PTRACE_GETREGS returns) ↔ the engine's vCPU state.
 *
 * Emulates: a VMCS/VMCB read at a #GP exit, from a Linux thread: all general registers, RIP, RFLAGS, the mode from
 * CS (0x33 = 64-bit, 0x23 = i386 compatibility mode), CPL 3, FS/GS bases.
 * Source of truth: Linux `arch/x86/include/asm/user_64.h`; `docs/tracer.md` §4.
 * Also: {@link TraceeRegs}, the GETREGS → engine → SETREGS sequence every register-changing path uses.
 * Does not: model segment bases other than FS/GS (Linux user segments are flat).
 */
import { CpuMode } from "../../x86/cpu-mode.js";
import { type CpuState, Seg } from "../../x86/cpu-state.js";
import { Reg } from "../../x86/registers.js";
import { PTRACE, UREG, USER_REGS_SIZE, type Libc } from "../ptrace/libc.js";

/** Our register number → u64 index in `user_regs_struct` (every register the engine has). */
export const REGISTER_MAP: readonly (readonly [number, number])[] = [
  [Reg.RAX, UREG.rax],
  [Reg.RCX, UREG.rcx],
  [Reg.RDX, UREG.rdx],
  [Reg.RBX, UREG.rbx],
  [Reg.RSP, UREG.rsp],
  [Reg.RBP, UREG.rbp],
  [Reg.RSI, UREG.rsi],
  [Reg.RDI, UREG.rdi],
  [Reg.R8, UREG.r8],
  [Reg.R9, UREG.r9],
  [Reg.R10, UREG.r10],
  [Reg.R11, UREG.r11],
  [Reg.R12, UREG.r12],
  [Reg.R13, UREG.r13],
  [Reg.R14, UREG.r14],
  [Reg.R15, UREG.r15],
  [Reg.RIP, UREG.rip],
  [Reg.RFLAGS, UREG.eflags],
];

/** CS selector of 64-bit user code on Linux x86-64. */
export const USER_CS_64 = 0x33;
/** CS selector of 32-bit (compat) user code. */
export const USER_CS_32 = 0x23;

/** The two {@link REGISTER_MAP} columns as flat word indices (an indexed loop: iterating the pairs with destructuring cost ≈ 0.2 µs). */
const CPU_WORD = Uint8Array.from(REGISTER_MAP, ([r]) => r * 2);
const UREG_WORD = Uint8Array.from(REGISTER_MAP, ([, i]) => i * 2);

/** Copy `u` (a Uint32Array over user_regs_struct) into `cpu`. */
export function loadCpu(u: Uint32Array, cpu: CpuState): void {
  const w = cpu.regs.words;
  for (let k = 0; k < CPU_WORD.length; k++) {
    const r = CPU_WORD[k]!;
    const i = UREG_WORD[k]!;
    w[r] = u[i]!;
    w[r + 1] = u[i + 1]!;
  }
  loadCpuMode(u, cpu);
}

/** The mode (from CS), CPL and FS/GS bases of `u` into `cpu`: {@link loadCpu} without the registers. */
export function loadCpuMode(u: Uint32Array, cpu: CpuState): void {
  cpu.mode = (u[UREG.cs * 2]! & 0xffff) === USER_CS_32 ? CpuMode.COMPAT32 : CpuMode.LONG64;
  cpu.cpl = 3;
  const b = cpu.segBaseWords;
  b[Seg.FS * 2] = u[UREG.fs_base * 2]!;
  b[Seg.FS * 2 + 1] = u[UREG.fs_base * 2 + 1]!;
  b[Seg.GS * 2] = u[UREG.gs_base * 2]!;
  b[Seg.GS * 2 + 1] = u[UREG.gs_base * 2 + 1]!;
}

/** Copy the general registers, RIP and RFLAGS of `cpu` back into `u`. */
export function storeCpu(cpu: CpuState, u: Uint32Array): void {
  storeRegisterWords(cpu.regs.words, u);
}

/** Copy registers in the engine's order (`RegisterFile.words`) into `u`. */
export function storeRegisterWords(w: Uint32Array, u: Uint32Array): void {
  for (let k = 0; k < CPU_WORD.length; k++) {
    const r = CPU_WORD[k]!;
    const i = UREG_WORD[k]!;
    u[i] = w[r]!;
    u[i + 1] = w[r + 1]!;
  }
}

/**
 * The registers of a stopped thread in a native `user_regs_struct` buffer: PTRACE_GETREGS into it, the engine's
 * view of it, PTRACE_SETREGS from it. Every path that changes a tracee's registers (the #GP trap, CPUID, the
 * entry breakpoint) goes through {@link update} or {@link fetch}/{@link writeBack}.
 */
export class TraceeRegs {
  /** The buffer as 54 little-endian 32-bit halves (u64 field i is words[2i] + words[2i+1] · 2^32). */
  readonly words: Uint32Array;

  /**
   * @param c - libc bindings
   * @param buf - the native buffer (its own by default; the native step passes a view into its block)
   */
  constructor(
    private readonly c: Libc,
    private readonly buf: { ptr: unknown; view: Uint8Array } = c.alloc(USER_REGS_SIZE),
  ) {
    this.words = new Uint32Array(buf.view.buffer, buf.view.byteOffset, USER_REGS_SIZE / 4);
  }

  /** PTRACE_GETREGS of `tid`; false when it failed (the thread is gone). */
  fetch(tid: number): boolean {
    return this.c.ptraceBuf(PTRACE.GETREGS, tid, 0, this.buf.ptr) === 0;
  }

  /** PTRACE_SETREGS of `tid`; false when it failed. */
  writeBack(tid: number): boolean {
    return this.c.ptraceBuf(PTRACE.SETREGS, tid, 0, this.buf.ptr) === 0;
  }

  /** Field `i` ({@link UREG}) as a number (exact below 2^53, which user addresses are). */
  u64(i: number): number {
    return this.words[i * 2 + 1]! * 0x1_0000_0000 + this.words[i * 2]!;
  }

  /** Set field `i` to `v` (0 ≤ v < 2^53). */
  setU64(i: number, v: number): void {
    this.words[i * 2] = v >>> 0;
    this.words[i * 2 + 1] = Math.floor(v / 0x1_0000_0000);
  }

  /** Whether the thread runs i386 code (CS 0x23). */
  i386(): boolean {
    return (this.words[UREG.cs * 2]! & 0xffff) === USER_CS_32;
  }

  /**
   * GETREGS → `cpu` → `change(cpu)` → SETREGS: the registers are written back only when `change` returns true.
   * @returns true when `change` accepted and the write-back succeeded
   */
  update(tid: number, cpu: CpuState, change: (cpu: CpuState) => boolean): boolean {
    if (!this.fetch(tid)) return false;
    loadCpu(this.words, cpu);
    if (!change(cpu)) return false;
    storeCpu(cpu, this.words);
    return this.writeBack(tid);
  }
}
