/**
 * The #GP trap path of `vmport run`: a SIGSEGV stop that Linux raised for #GP on a backdoor instruction is emulated
 * with the engine and the thread's registers are written back; any other SIGSEGV is left for the program.
 *
 * Emulates: the hypervisor's #GP intercept for a Linux thread (`VirtualMachine.handleGp` on the thread's
 * registers and memory). Source of truth: `docs/tracer.md` §4 (why GETSIGINFO: a `kill(pid, SIGSEGV)` that lands
 * on an `in` must not be emulated; si_code SI_KERNEL is the #GP's).
 * Two ways in, with the same engine call and the same result: {@link GpTrap.fromStop} makes the system calls itself
 * (GETSIGINFO, GETREGS, the instruction read inside the engine's fetch, SETREGS) — the JavaScript step and the
 * reference; {@link GpTrap.fromStep} takes what the native step already fetched (siginfo, registers, up to 15
 * instruction bytes) and leaves the register write-back to the next native step.
 * Does not: resume the thread (the stop loop does), or handle CPUID (`cpuid-patcher.ts`).
 */
import { CpuState } from "../../x86/cpu-state.js";
import { Outcome } from "../../vm/exit-result.js";
import type { VirtualMachine } from "../../vm/virtual-machine.js";
import { PTRACE, SI_KERNEL, UREG, USER_REGS_SIZE, type Libc } from "../ptrace/libc.js";
import { PtraceMemory } from "./ptrace-memory.js";
import { loadCpuMode, TraceeRegs } from "./user-regs.js";
import { REGISTER_COUNT, RegisterFile } from "../../x86/registers.js";
import { STEP, type NativeStep } from "./native-step.js";

/** The trap path of one tracer. */
export class GpTrap {
  /** Backdoor accesses emulated. */
  traps = 0;
  private readonly cpu = new CpuState();
  private readonly mem: PtraceMemory;
  private readonly regs: TraceeRegs;
  private readonly siginfo: { ptr: unknown; view: Uint8Array };
  /** The step block's `user_regs_struct` (native step only). */
  private readonly stepRegs: Uint32Array | null;
  /** A vCPU whose registers are the step block's engine-order copy (native step only). */
  private readonly stepCpu: CpuState | null;

  constructor(
    private readonly c: Libc,
    private readonly vm: VirtualMachine,
    private readonly afterTrap: (() => void) | undefined,
    step: NativeStep | null,
  ) {
    this.mem = new PtraceMemory(c);
    this.regs = new TraceeRegs(c);
    this.siginfo = c.alloc(128);
    const b = step?.bytes;
    this.stepRegs = b === undefined ? null : new Uint32Array(b.buffer, b.byteOffset + STEP.REGS, USER_REGS_SIZE / 4);
    this.stepCpu =
      b === undefined
        ? null
        : new CpuState({ regs: new RegisterFile(new Uint32Array(b.buffer, b.byteOffset + STEP.ENGINE_REGS, REGISTER_COUNT * 2)) });
  }

  /** Emulate `cpu` against the thread's memory; true when the engine completed the access. */
  private emulate(cpu: CpuState, tid: number): boolean {
    cpu.vcpu = tid;
    this.mem.pid = tid;
    const res = this.vm.handleGp(cpu, this.mem);
    return res.outcome === Outcome.COMPLETED || res.outcome === Outcome.PARTIAL;
  }

  private done(): true {
    this.traps++;
    this.afterTrap?.();
    return true;
  }

  /**
   * A SIGSEGV stop, everything fetched here: emulate it if the kernel raised it for #GP on a backdoor
   * instruction. On true the registers are written back; resume the thread without the signal.
   */
  fromStop(tid: number): boolean {
    const c = this.c;
    if (c.ptraceBuf(PTRACE.GETSIGINFO, tid, 0, this.siginfo.ptr) !== 0) return false;
    const si = this.siginfo.view;
    const code = si[8]! | (si[9]! << 8) | (si[10]! << 16) | (si[11]! << 24);
    if (code !== SI_KERNEL) return false; // a user kill(), a page fault…: the program's own business
    if (!this.regs.update(tid, this.cpu, (cpu) => this.emulate(cpu, tid))) return false;
    return this.done();
  }

  /**
   * A SIGSEGV stop with `si_code` SI_KERNEL whose registers and instruction bytes the native step fetched. The
   * engine works on the step block's registers in place; on true resume with its SETREGS flag
   * (`Stepper.resumeTrap`), which writes them back.
   */
  fromStep(tid: number, step: NativeStep): boolean {
    const u = this.stepRegs!;
    const cpu = this.stepCpu!;
    loadCpuMode(u, cpu);
    const got = step.words[STEP.INSN_LEN >> 2]!;
    if (got > 0) this.mem.prefetched(u[UREG.rip * 2]!, u[UREG.rip * 2 + 1]!, step.bytes, STEP.INSN, got);
    const ok = this.emulate(cpu, tid);
    this.mem.clearPrefetch();
    return ok && this.done();
  }

  /** The write-back of an emulated trap failed after all (the thread vanished): count it as not emulated. */
  undoTrap(): void {
    this.traps--;
  }
}
