/**
 * The syscall policy installed in the tracee: `iopl`/`ioperm` report success without running, `socket(AF_VSOCK)`
 * fails with EAFNOSUPPORT, so clients fall back to the backdoor and never reach real I/O ports.
 *
 * Emulates: a VMware guest where `iopl(3)` works but every port access still traps to the hypervisor.
 * Source of truth: `seccomp(2)`, `real-clients.md` §10–11, `tracer-notes.md` §4.4 (`SECCOMP_RET_ERRNO` with data 0
 * returns 0). The static trampoline installs the program on itself before it execs the guest (`trampoline.ts`);
 * `installPolicy` can install it on the calling thread instead (tests).
 * Does not: filter i386 `socketcall` (the address family sits in user memory a filter cannot read).
 */

const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;
const EAFNOSUPPORT = 97;
const AF_VSOCK = 40;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;
const SECCOMP_RET_TRACE = 0x7ff00000;
const JSET_K = 0x45;
const PROT_EXEC = 4;
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const RET_K = 0x06;

/** One classic BPF instruction. */
type Insn = [code: number, jt: number, jf: number, k: number];

/**
 * The filter program: per arch, iopl/ioperm → 0, socket(AF_VSOCK) → EAFNOSUPPORT, everything else allowed. With
 * `traceExecMaps`, an `mmap` of a *file* with PROT_EXEC (how the loader maps a library, at start-up or for
 * dlopen) stops for the tracer (SECCOMP_RET_TRACE), which patches the new mapping's `cpuid`s once the call
 * returns. Anonymous executable mappings (JIT code, including the tracer thread's own V8) are not traced: a
 * RET_TRACE with no tracer attached would fail the call.
 */
export function policyProgram(traceExecMaps = false): Insn[] {
  const arch = (iopl: number, ioperm: number, socket: number, mmap: number): Insn[] => {
    const mm: Insn[] = traceExecMaps
      ? [
          [JEQ_K, 0, 6, mmap],
          [LD_W_ABS, 0, 0, 32], // A = args[2] (prot)
          [JSET_K, 0, 3, PROT_EXEC],
          [LD_W_ABS, 0, 0, 48], // A = args[4] (fd), low 32 bits
          [JEQ_K, 1, 0, 0xffffffff], // fd -1: anonymous
          [RET_K, 0, 0, SECCOMP_RET_TRACE],
          [RET_K, 0, 0, SECCOMP_RET_ALLOW],
        ]
      : [];
    return [
      [LD_W_ABS, 0, 0, 0], // A = nr
      [JEQ_K, 0, 1, iopl],
      [RET_K, 0, 0, SECCOMP_RET_ERRNO | 0],
      [JEQ_K, 0, 1, ioperm],
      [RET_K, 0, 0, SECCOMP_RET_ERRNO | 0],
      ...mm,
      [JEQ_K, 0, 3, socket],
      [LD_W_ABS, 0, 0, 16], // A = args[0] (low 32 bits)
      [JEQ_K, 0, 1, AF_VSOCK],
      [RET_K, 0, 0, SECCOMP_RET_ERRNO | EAFNOSUPPORT],
      [RET_K, 0, 0, SECCOMP_RET_ALLOW],
    ];
  };
  const x64 = arch(172, 173, 41, 9);
  const i386 = arch(110, 101, 359, 192); // mmap2
  return [
    [LD_W_ABS, 0, 0, 4], // A = arch
    [JEQ_K, 0, x64.length, AUDIT_ARCH_X86_64], // → x64 block, else skip it
    ...x64,
    [JEQ_K, 0, i386.length, AUDIT_ARCH_I386],
    ...i386,
    [RET_K, 0, 0, SECCOMP_RET_ALLOW],
  ];
}
