/**
 * The syscall policy installed in the tracee before it execs the program. Each rule keeps the program from
 * reaching real hardware or from leaving or attacking the tracer:
 * - `iopl`/`ioperm` report success without running (a real grant would let `in` reach real I/O ports);
 * - `socket(AF_VSOCK, …)` fails with EAFNOSUPPORT, so clients fall back to the backdoor;
 * - `ptrace` fails with EPERM: a tracee cannot be traced twice, and a program that seized its own parent (vmport)
 *   or its sibling threads would stop the tracer forever;
 * - `clone` with CLONE_UNTRACED fails with EPERM (the child would escape the tracer: no emulation, and it would
 *   outlive vmport); `clone3` passes its flags in memory a filter cannot read, so it fails with ENOSYS and libc
 *   falls back to `clone` (glibc does, since 2.34);
 * - on x86-64, system calls of the x32 ABI (numbers with bit 30 set) fail with ENOSYS, so none of the rules above
 *   can be bypassed through their x32 numbers;
 * - optionally, an `mmap` of a file with PROT_EXEC stops for the tracer (SECCOMP_RET_TRACE with data
 *   {@link EXEC_MMAP_TRACE_DATA}), which patches the new mapping's `cpuid`s.
 *
 * Emulates: a VMware guest where `iopl(3)` works but every port access still traps to the hypervisor.
 * Source of truth: `seccomp(2)` (SECCOMP_RET_ERRNO with data 0 returns 0; RET_DATA reaches the tracer through
 * PTRACE_GETEVENTMSG), Linux `arch/x86/entry/syscalls/syscall_{64,32}.tbl`, `include/uapi/linux/sched.h`
 * (CLONE_UNTRACED); `README.md` (threat model of the traced program).
 * Does not: filter i386 `socketcall` (the address family sits in user memory a filter cannot read); stop a
 * program from using `/proc/PID/mem`, `process_vm_writev` or signals against vmport's own process when it runs
 * with the same credentials (see the threat model).
 */

const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;
const EPERM = 1;
const ENOSYS = 38;
const EAFNOSUPPORT = 97;
const AF_VSOCK = 40;
const CLONE_UNTRACED = 0x00800000;
const X32_SYSCALL_BIT = 0x40000000;
const PROT_EXEC = 4;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;
const SECCOMP_RET_TRACE = 0x7ff00000;
/** RET_DATA of the exec-mmap rule, so a filter the program installs itself is not mistaken for ours. */
export const EXEC_MMAP_TRACE_DATA = 0x7601;

const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;
/** seccomp_data offsets: nr, arch, args[i] (low 32 bits). */
const NR = 0;
const ARCH = 4;
const arg = (i: number) => 16 + i * 8;

/** One classic BPF instruction: code, jt, jf, k. */
export type Insn = [code: number, jt: number, jf: number, k: number];

/** Syscall numbers the policy looks at, per architecture. */
interface Numbers {
  iopl: number;
  ioperm: number;
  socket: number;
  mmap: number;
  ptrace: number;
  clone: number;
  clone3: number;
}
const X64: Numbers = { iopl: 172, ioperm: 173, socket: 41, mmap: 9, ptrace: 101, clone: 56, clone3: 435 };
const I386: Numbers = { iopl: 110, ioperm: 101, socket: 359, mmap: 192 /* mmap2 */, ptrace: 26, clone: 120, clone3: 435 };

const ret = (action: number): Insn => [RET_K, 0, 0, action >>> 0];
/** `if (A == k) return action;` — falls through otherwise (A unchanged). */
const ifEq = (k: number, action: number): Insn[] => [[JEQ_K, 0, 1, k], ret(action)];

/** The rules for one architecture; A holds the syscall number on entry; every path ends in a return. */
function archBlock(n: Numbers, traceExecMaps: boolean, x32Guard: boolean): Insn[] {
  // clone: if (nr == clone) return (flags & CLONE_UNTRACED) ? EPERM : ALLOW
  const clone: Insn[] = [
    [JEQ_K, 0, 4, n.clone],
    [LD_W_ABS, 0, 0, arg(0)],
    [JSET_K, 0, 1, CLONE_UNTRACED],
    ret(SECCOMP_RET_ERRNO | EPERM),
    ret(SECCOMP_RET_ALLOW),
  ];
  // mmap of a file with PROT_EXEC: trace; any other mmap: allow
  const mmap: Insn[] = traceExecMaps
    ? [
        [JEQ_K, 0, 6, n.mmap],
        [LD_W_ABS, 0, 0, arg(2)], // prot
        [JSET_K, 0, 3, PROT_EXEC],
        [LD_W_ABS, 0, 0, arg(4)], // fd (low 32 bits)
        [JEQ_K, 1, 0, 0xffffffff], // fd -1: anonymous (JIT code) is never traced
        ret(SECCOMP_RET_TRACE | EXEC_MMAP_TRACE_DATA),
        ret(SECCOMP_RET_ALLOW),
      ]
    : [];
  // socket(AF_VSOCK): EAFNOSUPPORT
  const socket: Insn[] = [
    [JEQ_K, 0, 3, n.socket],
    [LD_W_ABS, 0, 0, arg(0)],
    [JEQ_K, 0, 1, AF_VSOCK],
    ret(SECCOMP_RET_ERRNO | EAFNOSUPPORT),
  ];
  return [
    [LD_W_ABS, 0, 0, NR],
    ...(x32Guard ? [[JGE_K, 0, 1, X32_SYSCALL_BIT] as Insn, ret(SECCOMP_RET_ERRNO | ENOSYS)] : []),
    ...ifEq(n.iopl, SECCOMP_RET_ERRNO | 0),
    ...ifEq(n.ioperm, SECCOMP_RET_ERRNO | 0),
    ...ifEq(n.ptrace, SECCOMP_RET_ERRNO | EPERM),
    ...ifEq(n.clone3, SECCOMP_RET_ERRNO | ENOSYS),
    ...clone,
    ...mmap,
    ...socket,
    ret(SECCOMP_RET_ALLOW),
  ];
}

/**
 * The filter program (see the module comment). With `traceExecMaps`, file mmaps with PROT_EXEC stop for the
 * tracer; anonymous executable mappings are never traced (a RET_TRACE with no tracer attached fails the call).
 */
export function policyProgram(traceExecMaps = false): Insn[] {
  const x64 = archBlock(X64, traceExecMaps, true);
  const i386 = archBlock(I386, traceExecMaps, false);
  if (x64.length > 255 || i386.length > 255) throw new Error("seccomp policy: a block is too long for an 8-bit jump");
  return [
    [LD_W_ABS, 0, 0, ARCH],
    [JEQ_K, 0, x64.length, AUDIT_ARCH_X86_64], // → x64 block, else skip it
    ...x64,
    [JEQ_K, 0, i386.length, AUDIT_ARCH_I386],
    ...i386,
    ret(SECCOMP_RET_ALLOW),
  ];
}
