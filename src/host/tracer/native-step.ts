/**
 * The native step: one machine-code routine, generated at run time, that does a whole ptrace step in one call
 * from JavaScript — resume the previous stop (write its registers back first when asked), wait for the next stop,
 * and, when it is a SIGSEGV signal-delivery stop that the kernel raised (`si_code` SI_KERNEL, what a #GP gives),
 * fetch its siginfo, its registers and the instruction bytes at RIP.
 * Everything else (exits, events, other signals, a failed call) returns to JavaScript at once with the wait result,
 * so the stop loop keeps every decision; only the system calls are gathered.
 *
 * Emulates: nothing; this is `vmport run`'s trap path with one koffi crossing per trap instead of six
 * (`docs/tracer.md` §4). Source of truth: Linux x86-64 system call ABI (`arch/x86/entry/entry_64.S`: number in
 * RAX, arguments in RDI, RSI, RDX, R10, R8, R9; RCX and R11 clobbered; -errno returned), `wait4(2)`, `ptrace(2)`,
 * `process_vm_readv(2)`, `include/uapi/asm-generic/siginfo.h` (si_code at offset 8).
 * The routine touches only its block (below) and makes only wait4, ptrace and process_vm_readv calls; the code is
 * assembled by `../x64-asm.ts` (checked against iced-x86 in its test) into an anonymous page made read + execute.
 * Does not: decide anything about a stop, or run on anything but Linux x86-64. The JavaScript step
 * (`step.ts`) does the same with one call per system call and is the reference in tests.
 */
import koffi from "koffi";
import { Asm, CC, R, mem } from "../x64-asm.js";
import { executablePage } from "../native-code.js";
import { realCpuid } from "./cpuid.js";
import { PTRACE, SI_KERNEL, SIG, USER_REGS_SIZE, UREG } from "../ptrace/libc.js";
import { SEGV_STOP_STATUS } from "./wait-status.js";
import { REGISTER_MAP } from "./user-regs.js";
import { REGISTER_COUNT } from "../../x86/registers.js";

/** Byte offsets in the step block (one native buffer shared by JavaScript and the routine). */
export const STEP = {
  /** In: thread to resume before waiting (0: none). Cleared by the routine. */
  RESUME_TID: 0,
  /** In: the ptrace request that resumes it (PTRACE_CONT, PTRACE_SYSCALL, PTRACE_LISTEN). */
  RESUME_REQ: 4,
  /** In: the signal to deliver with it. */
  RESUME_SIG: 8,
  /** In: {@link RESUME_SETREGS}: PTRACE_SETREGS from {@link REGS} first. */
  RESUME_FLAGS: 12,
  /** In: wait4 options (`__WALL | __WNOTHREAD`). */
  WAIT_FLAGS: 16,
  /** Out: the thread wait4 returned. */
  TID: 24,
  /** Out: its wait status. */
  STATUS: 28,
  /** Out: one of {@link STEP_KIND} (also the return value). */
  KIND: 32,
  /** Out: errno of a failed wait4 ({@link STEP_KIND.WAIT_ERROR}). */
  ERR: 36,
  /** Out: result of the SETREGS made before resuming (0 or -errno; 1 when none was asked). */
  SETREGS_RET: 40,
  /** Out: result of the resuming ptrace call. */
  RESUME_RET: 44,
  /** Out: instruction bytes read at RIP ({@link STEP_KIND.TRAP}). */
  INSN_LEN: 48,
  /** Out: the CPU the tracer thread ran on when the stop was seen (IA32_TSC_AUX), or -1 when unknown. */
  CPU: 52,
  /** Out: the TSC right before the resume (low, high 32 bits); unchanged when nothing was resumed. */
  RESUME_TSC: 64,
  /** Out: the TSC when the stop was seen (low, high 32 bits). */
  STOP_TSC: 72,
  /** Out: siginfo of a {@link STEP_KIND.TRAP} (128 bytes). */
  SIGINFO: 80,
  /**
   * `user_regs_struct` of a {@link STEP_KIND.TRAP}; on a resume with SETREGS, ENGINE_REGS are copied in first and it
   * is written back.
   */
  REGS: 208,
  /** Out: instruction bytes at RIP. */
  INSN: 208 + USER_REGS_SIZE,
  /** The local and remote `iovec`s of the instruction read. */
  IOV_LOCAL: 208 + USER_REGS_SIZE + 16,
  IOV_REMOTE: 208 + USER_REGS_SIZE + 32,
  /**
   * In/out: the same registers in the engine's order (`RegisterFile.words`: RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI,
   * R8–R15, RIP, RFLAGS), copied from REGS after GETREGS and back into REGS before SETREGS, so the engine works on
   * the block itself.
   */
  ENGINE_REGS: 208 + USER_REGS_SIZE + 48,
  /** Size of the block. */
  SIZE: 208 + USER_REGS_SIZE + 48 + REGISTER_COUNT * 8,
} as const;

/** {@link STEP.RESUME_FLAGS} bit: write the registers back before resuming; if that fails, deliver SIGSEGV. */
export const RESUME_SETREGS = 1;
/** What the routine found. */
export const STEP_KIND = {
  /** Anything but a kernel SIGSEGV with registers read: JavaScript classifies it from TID and STATUS. */
  OTHER: 0,
  /** A SIGSEGV signal-delivery stop with `si_code` SI_KERNEL: SIGINFO, REGS and INSN are filled. */
  TRAP: 1,
  /** wait4 failed (ECHILD when no tracee is left): ERR holds the errno. */
  WAIT_ERROR: 2,
} as const;
/** Instruction bytes read at RIP: the longest x86 instruction. */
export const INSN_BYTES = 15;

const SYS_PTRACE = 101;
const SYS_WAIT4 = 61;
const SYS_PROCESS_VM_READV = 310;
const EINTR = 4;

/** Whether this CPU has RDTSCP (CPUID 0x80000001 EDX bit 27). */
function hasRdtscp(): boolean {
  const [max] = realCpuid(0x80000000, 0);
  return max >= 0x80000001 && (realCpuid(0x80000001, 0)[3] & (1 << 27)) !== 0;
}

/** The routine, assembled: `int vmport_step(void* block)` (returns {@link STEP.KIND}). */
export function stepProgram(rdtscp: boolean): Asm {
  const a = new Asm();
  const b = (off: number) => mem(R.rbx, off);
  /** ptrace(request, tid in r12d, 0, data in r10) — the caller loaded r10. */
  const ptrace = (request: number) =>
    a.movImm32(R.rax, SYS_PTRACE).movImm32(R.rdi, request).movReg32(R.rsi, R.r12).xorReg32(R.rdx, R.rdx).syscall();
  a.push(R.rbx).push(R.r12).movReg64(R.rbx, R.rdi);
  // 1. Resume the previous stop, writing its registers back first when asked (engine order → user_regs_struct).
  a.load32(R.r12, b(STEP.RESUME_TID)).testReg32(R.r12, R.r12).jcc(CC.e, "wait");
  a.storeImm32(b(STEP.RESUME_TID), 0).storeImm32(b(STEP.SETREGS_RET), 1);
  a.testMemImm(b(STEP.RESUME_FLAGS), RESUME_SETREGS).jcc(CC.e, "resume");
  for (const [r, u] of REGISTER_MAP) a.load64(R.rax, b(STEP.ENGINE_REGS + r * 8)).store64(b(STEP.REGS + u * 8), R.rax);
  a.lea(R.r10, b(STEP.REGS));
  ptrace(PTRACE.SETREGS);
  a.store32(b(STEP.SETREGS_RET), R.rax).testReg32(R.rax, R.rax).jcc(CC.e, "resume");
  // The write-back failed: deliver the SIGSEGV, as the JavaScript path does when SETREGS fails.
  a.storeImm32(b(STEP.RESUME_REQ), PTRACE.CONT).storeImm32(b(STEP.RESUME_SIG), SIG.SEGV);
  a.label("resume")
    .rdtsc()
    .store32(b(STEP.RESUME_TSC), R.rax)
    .store32(b(STEP.RESUME_TSC + 4), R.rdx);
  a.movImm32(R.rax, SYS_PTRACE).load32(R.rdi, b(STEP.RESUME_REQ)).movReg32(R.rsi, R.r12).xorReg32(R.rdx, R.rdx);
  a.load32(R.r10, b(STEP.RESUME_SIG)).syscall().store32(b(STEP.RESUME_RET), R.rax);
  // 2. Wait (EINTR: again).
  a.label("wait").movImm32(R.rax, SYS_WAIT4).movImm64(R.rdi, -1).lea(R.rsi, b(STEP.STATUS)).load32(R.rdx, b(STEP.WAIT_FLAGS));
  a.xorReg32(R.r10, R.r10).syscall();
  a.cmpImm(R.rax, -EINTR).jcc(CC.e, "wait");
  a.testReg32(R.rax, R.rax).jcc(CC.ns, "stopped");
  a.neg32(R.rax).store32(b(STEP.ERR), R.rax).movImm32(R.rax, STEP_KIND.WAIT_ERROR).jmp("out");
  // 3. Classify: only a plain SIGSEGV signal-delivery stop goes further.
  a.label("stopped").store32(b(STEP.TID), R.rax).movReg32(R.r12, R.rax);
  if (rdtscp) a.rdtscp().andImm(R.rcx, 0xfff).store32(b(STEP.CPU), R.rcx);
  else a.rdtsc().storeImm32(b(STEP.CPU), -1);
  a.store32(b(STEP.STOP_TSC), R.rax).store32(b(STEP.STOP_TSC + 4), R.rdx);
  a.cmpMemImm(b(STEP.STATUS), SEGV_STOP_STATUS).jcc(CC.ne, "other");
  a.lea(R.r10, b(STEP.SIGINFO));
  ptrace(PTRACE.GETSIGINFO);
  a.testReg32(R.rax, R.rax).jcc(CC.ne, "other");
  a.cmpMemImm(b(STEP.SIGINFO + 8), SI_KERNEL).jcc(CC.ne, "other");
  a.lea(R.r10, b(STEP.REGS));
  ptrace(PTRACE.GETREGS);
  a.testReg32(R.rax, R.rax).jcc(CC.ne, "other");
  for (const [r, u] of REGISTER_MAP) a.load64(R.rax, b(STEP.REGS + u * 8)).store64(b(STEP.ENGINE_REGS + r * 8), R.rax);
  // 4. The instruction bytes: process_vm_readv(tid, {INSN, 15}, 1, {RIP, 15}, 1, 0); a short read is fine.
  a.lea(R.rax, b(STEP.INSN))
    .store64(b(STEP.IOV_LOCAL), R.rax)
    .movImm64(R.rax, INSN_BYTES)
    .store64(b(STEP.IOV_LOCAL + 8), R.rax);
  a.store64(b(STEP.IOV_REMOTE + 8), R.rax)
    .load64(R.rax, b(STEP.REGS + UREG.rip * 8))
    .store64(b(STEP.IOV_REMOTE), R.rax);
  a.movImm32(R.rax, SYS_PROCESS_VM_READV).movReg32(R.rdi, R.r12).lea(R.rsi, b(STEP.IOV_LOCAL)).movImm32(R.rdx, 1);
  a.lea(R.r10, b(STEP.IOV_REMOTE)).movImm32(R.r8, 1).xorReg32(R.r9, R.r9).syscall();
  a.testReg32(R.rax, R.rax).jcc(CC.ns, "len").xorReg32(R.rax, R.rax);
  a.label("len").store32(b(STEP.INSN_LEN), R.rax).movImm32(R.rax, STEP_KIND.TRAP).jmp("out");
  a.label("other").xorReg32(R.rax, R.rax);
  a.label("out").store32(b(STEP.KIND), R.rax).pop(R.r12).pop(R.rbx).ret();
  return a;
}

/** The step block and the routine that runs over it. */
export interface NativeStep {
  /** The block, as koffi's pointer (pass it to {@link call}). */
  readonly block: unknown;
  /** The block's bytes. */
  readonly bytes: Uint8Array;
  /** The block as 32-bit words (offsets / 4). */
  readonly words: Int32Array;
  /** Run one step; returns {@link STEP.KIND}. */
  call(block: unknown): number;
}

let proto: ReturnType<typeof koffi.proto> | null = null;
let code: unknown = null;

/** Assemble the routine into an executable page (once per thread; {@link createNativeStep} does it when needed). */
export function prepareNativeStep(): void {
  code ??= executablePage(stepProgram(hasRdtscp()).bytes());
  proto ??= koffi.proto("int vmport_step(void* block)");
}

/** Make a step block and bind the routine. */
export function createNativeStep(): NativeStep {
  prepareNativeStep();
  const fn = koffi.decode(code, proto!) as (block: unknown) => number;
  const block = koffi.alloc("uint8_t", STEP.SIZE);
  const bytes = new Uint8Array(koffi.view(block, STEP.SIZE));
  bytes.fill(0);
  return { block, bytes, words: new Int32Array(bytes.buffer, bytes.byteOffset, STEP.SIZE / 4), call: fn };
}
