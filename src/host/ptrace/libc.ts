/**
 * The libc calls the tracer needs, bound with koffi (synchronous calls only: the tracer thread must make every
 * ptrace call itself), and the Linux constants they use.
 *
 * Emulates: nothing; this is the host side of `vmport run`.
 * Source of truth: Linux `include/uapi/linux/ptrace.h`, `arch/x86/include/asm/user_64.h` (`user_regs_struct`),
 * glibc `posix_spawn(3)`, `process_vm_readv(2)`, `seccomp(2)`; `docs/tracer.md` (measured design and pitfalls).
 * Does not: work outside Linux x86-64; loading fails there with a clear error at `vmport run`.
 */
import koffi from "koffi";

/** ptrace requests. */
export const PTRACE = {
  PEEKDATA: 2,
  POKEDATA: 5,
  CONT: 7,
  SYSCALL: 24,
  KILL: 8,
  GETREGS: 12,
  SETREGS: 13,
  GETSIGINFO: 0x4202,
  SEIZE: 0x4206,
  INTERRUPT: 0x4207,
  LISTEN: 0x4208,
  GETEVENTMSG: 0x4201,
} as const;

/** PTRACE_SEIZE options. */
export const PTRACE_O = {
  TRACESYSGOOD: 1,
  TRACEFORK: 1 << 1,
  TRACEVFORK: 1 << 2,
  TRACECLONE: 1 << 3,
  TRACEEXEC: 1 << 4,
  TRACEVFORKDONE: 1 << 5,
  TRACEEXIT: 1 << 6,
  TRACESECCOMP: 1 << 7,
  EXITKILL: 1 << 20,
} as const;

/** ptrace event numbers (status >> 16). */
export const PTRACE_EVENT = { FORK: 1, VFORK: 2, CLONE: 3, EXEC: 4, VFORK_DONE: 5, EXIT: 6, SECCOMP: 7, STOP: 128 } as const;

/** Signals used by the tracer. */
export const SIG = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  KILL: 9,
  SEGV: 11,
  PIPE: 13,
  TERM: 15,
  CHLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
} as const;

/** `si_code` of a SIGSEGV the kernel raised for #GP (SI_KERNEL). */
export const SI_KERNEL = 0x80;
/** waitpid flag: wait for clone children too. */
export const WALL = 0x40000000;
/** waitpid flag: only this thread's children and tracees (not other threads' children, e.g. tsx's esbuild). */
export const WNOTHREAD = 0x20000000;
/** errno values. */
export const ERRNO = { EINTR: 4, ECHILD: 10, ESRCH: 3 } as const;

/** Size of `struct user_regs_struct` (27 × u64). */
export const USER_REGS_SIZE = 27 * 8;
/** u64 index of each field in `user_regs_struct`. */
export const UREG = {
  r15: 0,
  r14: 1,
  r13: 2,
  r12: 3,
  rbp: 4,
  rbx: 5,
  r11: 6,
  r10: 7,
  r9: 8,
  r8: 9,
  rax: 10,
  rcx: 11,
  rdx: 12,
  rsi: 13,
  rdi: 14,
  orig_rax: 15,
  rip: 16,
  cs: 17,
  eflags: 18,
  rsp: 19,
  ss: 20,
  fs_base: 21,
  gs_base: 22,
  ds: 23,
  es: 24,
  fs: 25,
  gs: 26,
} as const;

/** The bound functions. */
export interface Libc {
  /** `ptrace(2)` with integer `addr` and `data`; -1 and errno on failure. */
  ptrace(req: number, pid: number, addr: bigint | number, data: bigint | number): number;
  /** `ptrace(2)` with `data` a buffer (GETREGS, SETREGS, GETSIGINFO) or a native pointer. */
  ptraceBuf(req: number, pid: number, addr: bigint | number, data: Uint8Array | unknown): number;
  /** `waitpid(2)`; the wait status lands in `status[0]`. */
  waitpid(pid: number, status: Int32Array, options: number): number;
  /** `kill(2)`. */
  kill(pid: number, sig: number): number;
  /** `posix_spawn(3)`: the child's pid lands in `pid[0]`; returns 0 or an error number (not -1/errno). */
  posixSpawn(pid: Int32Array, path: string, fa: unknown, attr: unknown, argv: (string | null)[], envp: (string | null)[]): number;
  /** `posix_spawn_file_actions_init`. */
  faInit(fa: unknown): number;
  /** `posix_spawn_file_actions_adddup2` (dup2 of `fd` onto itself clears FD_CLOEXEC, glibc ≥ 2.29). */
  faAddDup2(fa: unknown, fd: number, newfd: number): number;
  /** `posix_spawn_file_actions_addclose`. */
  faAddClose(fa: unknown, fd: number): number;
  /** `posix_spawn_file_actions_addopen`. */
  faAddOpen(fa: unknown, fd: number, path: string, oflag: number, mode: number): number;
  /** `posix_spawn_file_actions_addchdir_np` (glibc ≥ 2.29). */
  faAddChdir(fa: unknown, path: string): number;
  /** `posix_spawn_file_actions_destroy`. */
  faDestroy(fa: unknown): number;
  /** `posix_spawnattr_init`. */
  attrInit(attr: unknown): number;
  /** `posix_spawnattr_setflags` (POSIX_SPAWN_SETSIGDEF, POSIX_SPAWN_SETSIGMASK, …). */
  attrSetFlags(attr: unknown, flags: number): number;
  /** `posix_spawnattr_setsigdefault`: signals reset to their default action in the child (a `sigset_t`). */
  attrSetSigDefault(attr: unknown, set: Uint8Array): number;
  /** `posix_spawnattr_setsigmask`: the child's signal mask (a `sigset_t`). */
  attrSetSigMask(attr: unknown, set: Uint8Array): number;
  /** `posix_spawnattr_destroy`. */
  attrDestroy(attr: unknown): number;
  /** `process_vm_readv(2)`: bytes copied, or -1. */
  processVmReadv(pid: number, local: unknown, liovcnt: number, remote: unknown, riovcnt: number, flags: number): number;
  /** `process_vm_writev(2)`: bytes copied, or -1. */
  processVmWritev(pid: number, local: unknown, liovcnt: number, remote: unknown, riovcnt: number, flags: number): number;
  /** `syscall(2)` with six integer arguments. */
  syscall6(
    nr: number,
    a: bigint | number,
    b: bigint | number,
    c: bigint | number,
    d: bigint | number,
    e: bigint | number,
    f: bigint | number,
  ): number;
  /** `syscall(2)` with two integers and a buffer. */
  syscallPtr(nr: number, a: number, b: number, p: Uint8Array): number;
  /** `stat(2)` of `path` (following links) into `buf` (x86-64 `struct stat`, 144 bytes): 0, or -1 and errno. */
  stat(path: string, buf: Uint8Array): number;
  /** `pipe2(2)`: the two descriptors land in `fds`. */
  pipe2(fds: Int32Array, flags: number): number;
  /** `close(2)`. */
  close(fd: number): number;
  /** `sched_setaffinity(2)` with a `size`-byte CPU mask. */
  schedSetaffinity(pid: number, size: number, mask: Uint8Array): number;
  /** Returns the size of the mask the kernel copied (≥ 8), or -1. */
  schedGetaffinity(pid: number, size: number, mask: Uint8Array): number;
  /** The CPU the calling thread runs on. */
  schedGetcpu(): number;
  /** `gettid(2)`: the calling thread's id. */
  gettid(): number;
  /** The calling thread's `errno` after the last failed call. */
  errno(): number;
  /** `size` bytes of native memory (koffi), with a byte view of it and its address. */
  alloc(size: number): { ptr: unknown; view: Uint8Array; address: bigint };
}

let cached: Libc | null = null;

/** Bind libc (once per thread). */
export function libc(): Libc {
  if (cached) return cached;
  const lib = koffi.load("libc.so.6");
  const ptrace = lib.func("long ptrace(long request, int pid, uintptr_t addr, uintptr_t data)");
  const ptraceBuf = lib.func("ptrace", "long", ["long", "int", "uintptr_t", "void*"]);
  const waitpid = lib.func("int waitpid(int pid, _Out_ int* status, int options)");
  const kill = lib.func("int kill(int pid, int sig)");
  const posixSpawn = lib.func(
    "int posix_spawn(_Out_ int* pid, const char* path, void* fa, void* attr, const char** argv, const char** envp)",
  );
  const faInit = lib.func("int posix_spawn_file_actions_init(void* fa)");
  const faAddDup2 = lib.func("int posix_spawn_file_actions_adddup2(void* fa, int fd, int newfd)");
  const faAddClose = lib.func("int posix_spawn_file_actions_addclose(void* fa, int fd)");
  const faAddOpen = lib.func("int posix_spawn_file_actions_addopen(void* fa, int fd, const char* path, int oflag, uint32_t mode)");
  const faDestroy = lib.func("int posix_spawn_file_actions_destroy(void* fa)");
  const faAddChdir = lib.func("int posix_spawn_file_actions_addchdir_np(void* fa, const char* path)");
  const attrInit = lib.func("int posix_spawnattr_init(void* attr)");
  const attrSetFlags = lib.func("int posix_spawnattr_setflags(void* attr, short flags)");
  const attrSetSigDefault = lib.func("int posix_spawnattr_setsigdefault(void* attr, void* set)");
  const attrSetSigMask = lib.func("int posix_spawnattr_setsigmask(void* attr, void* set)");
  const attrDestroy = lib.func("int posix_spawnattr_destroy(void* attr)");
  const processVmReadv = lib.func(
    "long process_vm_readv(int pid, void* local, unsigned long liovcnt, void* remote, unsigned long riovcnt, unsigned long flags)",
  );
  const processVmWritev = lib.func(
    "long process_vm_writev(int pid, void* local, unsigned long liovcnt, void* remote, unsigned long riovcnt, unsigned long flags)",
  );
  const syscall6 = lib.func("long syscall(long nr, long a, long b, long c, long d, long e, long f)");
  const syscallPtr = lib.func("syscall", "long", ["long", "long", "long", "void*"]);
  const statSys = lib.func("syscall", "long", ["long", "const char*", "void*"]);
  const pipe2 = lib.func("int pipe2(_Out_ int* fds, int flags)");
  const close = lib.func("int close(int fd)");
  const schedSetaffinity = lib.func("int sched_setaffinity(int pid, size_t size, void* mask)");
  const schedGetaffinity = lib.func("long syscall(long nr, int pid, size_t size, _Out_ uint8_t* mask)");
  const schedGetcpu = lib.func("int sched_getcpu()");
  const gettid = lib.func("int gettid()");
  cached = {
    ptrace: (r, p, a, d) => Number(ptrace(r, p, a, d)),
    ptraceBuf: (r, p, a, d) => Number(ptraceBuf(r, p, a, d)),
    waitpid: (p, s, o) => waitpid(p, s, o) as number,
    kill: (p, s) => kill(p, s) as number,
    posixSpawn: (pid, path, fa, attr, argv, envp) => posixSpawn(pid, path, fa, attr, argv, envp) as number,
    faInit: (fa) => faInit(fa) as number,
    faAddDup2: (fa, a, b) => faAddDup2(fa, a, b) as number,
    faAddClose: (fa, fd) => faAddClose(fa, fd) as number,
    faAddOpen: (fa, fd, p, o, m) => faAddOpen(fa, fd, p, o, m) as number,
    faAddChdir: (fa, p) => faAddChdir(fa, p) as number,
    faDestroy: (fa) => faDestroy(fa) as number,
    attrInit: (a) => attrInit(a) as number,
    attrSetFlags: (a, f) => attrSetFlags(a, f) as number,
    attrSetSigDefault: (a, s) => attrSetSigDefault(a, s) as number,
    attrSetSigMask: (a, s) => attrSetSigMask(a, s) as number,
    attrDestroy: (a) => attrDestroy(a) as number,
    processVmReadv: (p, l, lc, r, rc, f) => Number(processVmReadv(p, l, lc, r, rc, f)),
    processVmWritev: (p, l, lc, r, rc, f) => Number(processVmWritev(p, l, lc, r, rc, f)),
    syscall6: (n, a, b, c, d, e, f) => Number(syscall6(n, a, b, c, d, e, f)),
    syscallPtr: (n, a, b, p) => Number(syscallPtr(n, a, b, p)),
    stat: (path, buf) => Number(statSys(4, path, buf)), // SYS_stat on x86-64
    pipe2: (fds, f) => pipe2(fds, f) as number,
    close: (fd) => close(fd) as number,
    schedSetaffinity: (p, s, m) => schedSetaffinity(p, s, m) as number,
    // The raw system call returns the mask size copied; glibc's wrapper hides it (SYS_sched_getaffinity = 204).
    schedGetaffinity: (p, s, m) => Number(schedGetaffinity(204, p, s, m)),
    schedGetcpu: () => schedGetcpu() as number,
    gettid: () => gettid() as number,
    errno: () => koffi.errno(),
    alloc: (size) => {
      const ptr = koffi.alloc("uint8_t", size);
      return { ptr, view: new Uint8Array(koffi.view(ptr, size)), address: koffi.address(ptr) as bigint };
    },
  };
  return cached;
}
