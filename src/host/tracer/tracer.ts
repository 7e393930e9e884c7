/**
 * The trap engine of `vmport run`: spawn, seize and wait from one thread, emulate backdoor #GPs in that thread.
 *
 * Emulates: the hypervisor's #GP intercept for a real Linux process. A ring-3 `in`/`out`/`rep ins`/`rep outs`/
 * `rdpmc` on the backdoor faults; Linux turns the #GP into SIGSEGV with `si_code` SI_KERNEL; the tracer sees the
 * signal-delivery-stop, decodes and emulates the instruction with the engine, writes the registers back and
 * resumes the thread without the signal. Every other stop is passed through untouched: other SIGSEGVs (a NULL
 * dereference, `inb $0x80`, a user's `kill -SEGV`) are delivered; job control works (group-stops are LISTENed);
 * fork, vfork, clone and exec are followed.
 * Source of truth: `tracer-notes.md` §1–§4 (measured design: posix_spawn from the tracer thread with fds 0–2
 * dup2'ed onto themselves and every signal reset to default; a self-stopping trampoline (here a static one, see
 * `trampoline.ts`); the start-up race; stop classification); `ptrace(2)`.
 * CPUID (profile `cpuid`, default on): at each exec a breakpoint at the program's entry point waits until the
 * dynamic loader has mapped every DT_NEEDED library; then every `cpuid` in the executable file mappings is patched
 * to `ud2` (same length, `real-clients.md` §9) and the resulting SIGILLs are emulated with VMware's leaves.
 * Libraries mapped later (dlopen) are caught by the seccomp policy: an `mmap` of a file with PROT_EXEC stops for
 * the tracer, which lets it run to its exit and patches the new mapping.
 * Does not: run on anything but Linux x86-64 with ptrace; patch code that is not in a file mapping.
 */
import { CpuState } from "../../x86/cpu-state.js";
import { Outcome } from "../../vm/exit-result.js";
import type { VirtualMachine } from "../../vm/virtual-machine.js";
import { ERRNO, PTRACE, PTRACE_EVENT, PTRACE_O, SIG, SI_KERNEL, USER_REGS_SIZE, WALL, WNOTHREAD, libc, type Libc } from "../ptrace/libc.js";
import { PtraceMemory } from "./ptrace-memory.js";
import { policyProgram } from "./seccomp.js";
import { loadCpu, storeCpu } from "./user-regs.js";
import { readFileSync, openSync, readSync, closeSync } from "node:fs";
import { Reg } from "../../x86/registers.js";
import { cpuidSites, execMappings } from "./cpuid-sites.js";
import { vmwareCpuid } from "./cpuid.js";
import { resolveProgram, trampolinePath } from "./trampoline.js";

/** Options of one traced run. */
export interface TracerOptions {
  /** Program and arguments. */
  argv: string[];
  /** Environment as `KEY=VALUE`. */
  env: string[];
  /** The VM whose backdoor the program talks to. */
  vm: VirtualMachine;
  /** Pin the tracer thread and the tracee to this CPU, or null. */
  pinCpu: number | null;
  /** Install the iopl/ioperm/vsock policy (default true). */
  seccomp?: boolean;
  /** Called after every emulated backdoor access (state saving). Keep it cheap. */
  afterTrap?: () => void;
  /**
   * Called when the host rang the doorbell (see {@link Tracer.doorbellFd}): apply host-side changes now, even
   * though no trap is pending. Nothing is added to the per-trap path for this.
   */
  onDoorbell?: () => void;
}

/** How the run ended. */
export interface RunResult {
  /** The root program's exit code, or 128 + signal. */
  exitStatus: number;
  /** Signal that killed the root program, or null. */
  signal: number | null;
  /** Backdoor accesses emulated. */
  traps: number;
  /** SIGSEGVs passed through to the program. */
  passedSegv: number;
}

/** Per-run counters exposed for tests and benchmarks. */
export interface TracerCounters {
  traps: number;
  /** CPUID instructions emulated. */
  cpuids: number;
  /** `cpuid` sites patched to `ud2`. */
  patched: number;
  passedSegv: number;
  signalsPassed: number;
  groupStops: number;
  events: number;
}

const STOP_SIGNALS = new Set<number>([SIG.STOP, SIG.TSTP, SIG.TTIN, SIG.TTOU]);
/** `VMPORT_DEBUG_TRACER=1` prints every wait result on stderr. */
const DEBUG = process.env["VMPORT_DEBUG_TRACER"] === "1";

/** One tracer; `run()` blocks the calling thread until the root program exits. */
export class Tracer {
  readonly counters: TracerCounters = { traps: 0, cpuids: 0, patched: 0, passedSegv: 0, signalsPassed: 0, groupStops: 0, events: 0 };
  private readonly c: Libc = libc();
  private readonly status = new Int32Array(1);
  private readonly regsBuf = this.c.alloc(USER_REGS_SIZE);
  private readonly uregs = new Uint32Array(this.regsBuf.view.buffer, this.regsBuf.view.byteOffset, USER_REGS_SIZE / 4);
  private readonly siginfo = this.c.alloc(128);
  private readonly cpu = new CpuState();
  private readonly mem = new PtraceMemory(this.c);
  private readonly known = new Set<number>();
  /** Root program pid (the trampoline, then the program it execs). */
  rootPid = 0;
  /** Patched `cpuid` addresses per thread group. */
  private readonly sites = new Map<number, Set<number>>();
  /** Entry-point breakpoints waiting to be hit: tgid → address and the original 8 bytes there. */
  private readonly entryBreak = new Map<number, { addr: number; orig: Uint8Array }>();
  private readonly tgids = new Map<number, number>();
  private readonly word = new Uint8Array(8);
  /** Threads stopped at an executable-mmap seccomp event, resumed to the syscall's exit. */
  private readonly awaitingMmap = new Set<number>();
  /** Write end of the doorbell pipe (O_CLOEXEC); another thread writes one byte to wake the wait loop. */
  doorbellFd = -1;
  private doorbellRead = -1;
  private doorbellPid = 0;

  constructor(private readonly o: TracerOptions) {}

  /** Spawn the program under the trampoline and seize it. Throws with a clear message on failure. */
  spawn(): number {
    const c = this.c;
    if (this.o.pinCpu !== null) this.pin(0);
    const fa = c.alloc(80);
    const attr = c.alloc(336);
    c.faInit(fa.ptr);
    for (const fd of [0, 1, 2]) c.faAddDup2(fa.ptr, fd, fd); // clears FD_CLOEXEC, which Node sets on 0–2
    c.attrInit(attr.ptr);
    c.attrSetSigDefault(attr.ptr, new Uint8Array(128).fill(0xff)); // Node ignores SIGPIPE/SIGXFSZ: reset all
    c.attrSetSigMask(attr.ptr, new Uint8Array(128));
    c.attrSetFlags(attr.ptr, 0x04 | 0x08); // POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
    const prog = resolveProgram(this.o.argv[0]!, envPath(this.o.env));
    if (prog === null) throw new Error(`${this.o.argv[0]}: command not found`);
    const tramp = trampolinePath(this.o.seccomp !== false ? policyProgram(this.o.vm.profile.cpuid) : []);
    const argv = [tramp, prog, ...this.o.argv, null];
    const envp = [...this.o.env, null];
    const pid = new Int32Array(1);
    const rc = c.posixSpawn(pid, tramp, fa.ptr, attr.ptr, argv, envp);
    c.faDestroy(fa.ptr);
    c.attrDestroy(attr.ptr);
    if (rc !== 0) throw new Error(`posix_spawn failed (error ${rc})`);
    this.rootPid = pid[0]!;
    let opts = PTRACE_O.TRACEFORK | PTRACE_O.TRACEVFORK | PTRACE_O.TRACECLONE | PTRACE_O.TRACEEXEC | PTRACE_O.EXITKILL;
    if (this.o.vm.profile.cpuid) opts |= PTRACE_O.TRACESECCOMP | PTRACE_O.TRACESYSGOOD;
    if (c.ptrace(PTRACE.SEIZE, this.rootPid, 0, opts) !== 0) {
      const e = c.errno();
      c.kill(this.rootPid, SIG.KILL);
      throw new Error(`ptrace(PTRACE_SEIZE) failed (errno ${e}); is ptrace allowed here?`);
    }
    if (this.o.pinCpu !== null) this.pin(this.rootPid);
    this.openDoorbell();
    return this.rootPid;
  }

  /**
   * The doorbell: an untraced child (`head -c 1`) reading a pipe. Writing a byte to {@link doorbellFd} makes it
   * exit; its exit wakes the blocking `waitpid`, the loop runs `onDoorbell`, and a new doorbell is spawned.
   */
  private openDoorbell(): void {
    const fds = new Int32Array(2);
    if (this.c.pipe2(fds, 0x80000 /* O_CLOEXEC */) !== 0) return;
    this.doorbellRead = fds[0]!;
    this.doorbellFd = fds[1]!;
    this.spawnDoorbell();
  }

  private spawnDoorbell(): void {
    const c = this.c;
    const fa = c.alloc(80);
    c.faInit(fa.ptr);
    c.faAddDup2(fa.ptr, this.doorbellRead, 0);
    c.faAddOpen(fa.ptr, 1, "/dev/null", 1 /* O_WRONLY */, 0);
    const pid = new Int32Array(1);
    const rc = c.posixSpawn(pid, "/usr/bin/head", fa.ptr, null, ["head", "-c", "1", null], [null]);
    c.faDestroy(fa.ptr);
    this.doorbellPid = rc === 0 ? pid[0]! : 0;
  }

  private pin(pid: number): void {
    const mask = new Uint8Array(128);
    const cpu = this.o.pinCpu!;
    mask[cpu >> 3] = 1 << (cpu & 7);
    this.c.schedSetaffinity(pid, 128, mask);
  }

  /** Wait for and handle stops until the root program is gone. */
  run(): RunResult {
    const c = this.c;
    let rootStatus: number | null = null;
    let started = false;
    for (;;) {
      const tid = c.waitpid(-1, this.status, WALL | WNOTHREAD);
      if (tid < 0) {
        const e = c.errno();
        if (e === ERRNO.EINTR) continue;
        break; // ECHILD: nobody left
      }
      const s = this.status[0]!;
      if (tid === this.doorbellPid) {
        this.o.onDoorbell?.();
        if (rootStatus === null) this.spawnDoorbell();
        else this.doorbellPid = 0;
        continue;
      }
      if (DEBUG) process.stderr.write(`vmport-trace: tid=${tid} status=0x${s.toString(16)}\n`);
      if ((s & 0x7f) === 0 || ((s & 0xff) !== 0x7f && (s & 0x7f) !== 0)) {
        // Exited or killed.
        this.known.delete(tid);
        if (tid === this.rootPid) {
          rootStatus = s;
          this.killRest(); // the guest never outlives its root program under vmport
          if (this.doorbellPid > 0) c.kill(this.doorbellPid, SIG.KILL);
        }
        continue;
      }
      const sig = (s >> 8) & 0xff;
      const event = (s >> 16) & 0xff;
      if (!started && tid === this.rootPid) {
        // Start-up race (tracer-notes §4.1): seized after the trampoline's self-stop ⇒ EVENT_STOP(SIGSTOP):
        // LISTEN + SIGCONT; seized before it ⇒ a SIGSTOP signal-delivery-stop: swallow it. Seized while
        // posix_spawn's exec of /bin/sh was still finishing ⇒ an EXEC event comes first: just resume.
        this.known.add(tid);
        if (sig === SIG.STOP && event === PTRACE_EVENT.STOP) {
          started = true;
          c.ptrace(PTRACE.LISTEN, tid, 0, 0);
          c.kill(tid, SIG.CONT);
        } else if (sig === SIG.STOP && event === 0) {
          started = true;
          c.ptrace(PTRACE.CONT, tid, 0, 0);
        } else c.ptrace(PTRACE.CONT, tid, 0, event !== 0 ? 0 : sig);
        continue;
      }
      if (event !== 0) {
        this.counters.events++;
        if (event === PTRACE_EVENT.STOP) {
          if (this.known.has(tid) && STOP_SIGNALS.has(sig)) {
            this.counters.groupStops++;
            c.ptrace(PTRACE.LISTEN, tid, 0, 0); // a real group-stop: stays stopped until SIGCONT
          } else {
            this.known.add(tid); // a new child or thread's first stop
            c.ptrace(PTRACE.CONT, tid, 0, 0);
          }
        } else if (event === PTRACE_EVENT.SECCOMP) {
          // An executable file mapping is about to be made (a library): let the mmap run, stop at its exit.
          this.awaitingMmap.add(tid);
          c.ptrace(PTRACE.SYSCALL, tid, 0, 0);
        } else {
          if (event === PTRACE_EVENT.EXEC) this.onExec(tid);
          c.ptrace(PTRACE.CONT, tid, 0, 0); // fork, vfork, clone, exec, exit events
        }
        continue;
      }
      if (sig === (SIG.TRAP | 0x80) && this.awaitingMmap.delete(tid)) {
        this.patchAll(tid, this.tgidOf(tid)); // syscall-exit of that mmap: patch the new mapping
        c.ptrace(PTRACE.CONT, tid, 0, 0);
        continue;
      }
      this.known.add(tid);
      if (sig === SIG.SEGV && this.trap(tid)) {
        c.ptrace(PTRACE.CONT, tid, 0, 0);
        continue;
      }
      if ((sig === SIG.ILL && this.cpuidTrap(tid)) || (sig === SIG.TRAP && this.entryHit(tid))) {
        c.ptrace(PTRACE.CONT, tid, 0, 0);
        continue;
      }
      if (sig === SIG.SEGV) this.counters.passedSegv++;
      else this.counters.signalsPassed++;
      c.ptrace(PTRACE.CONT, tid, 0, sig); // deliver the signal untouched
    }
    const st = rootStatus ?? 0;
    const signal = (st & 0x7f) !== 0 ? st & 0x7f : null;
    return {
      exitStatus: signal !== null ? 128 + signal : (st >> 8) & 0xff,
      signal,
      traps: this.counters.traps,
      passedSegv: this.counters.passedSegv,
    };
  }

  /** A SIGSEGV stop: emulate it if the kernel raised it for #GP on a backdoor instruction. */
  private trap(tid: number): boolean {
    const c = this.c;
    if (c.ptraceBuf(PTRACE.GETSIGINFO, tid, 0, this.siginfo.ptr) !== 0) return false;
    const si = this.siginfo.view;
    const code = si[8]! | (si[9]! << 8) | (si[10]! << 16) | (si[11]! << 24);
    if (code !== SI_KERNEL) return false; // a user kill(), a page fault…: the program's own business
    if (c.ptraceBuf(PTRACE.GETREGS, tid, 0, this.regsBuf.ptr) !== 0) return false;
    loadCpu(this.uregs, this.cpu);
    this.cpu.vcpu = tid;
    this.mem.pid = tid;
    const res = this.o.vm.handleGp(this.cpu, this.mem);
    if (res.outcome !== Outcome.COMPLETED && res.outcome !== Outcome.PARTIAL) return false;
    storeCpu(this.cpu, this.uregs);
    if (c.ptraceBuf(PTRACE.SETREGS, tid, 0, this.regsBuf.ptr) !== 0) return false;
    this.counters.traps++;
    this.o.afterTrap?.();
    return true;
  }

  /** Thread-group id of `tid` (cached; read from /proc once per thread). */
  private tgidOf(tid: number): number {
    let g = this.tgids.get(tid);
    if (g === undefined) {
      g = procStatusField(tid, "Tgid") ?? tid;
      this.tgids.set(tid, g);
    }
    return g;
  }

  /** Patched sites of a thread group; a forked child inherits its parent's patched text, so its list too. */
  private sitesOf(tgid: number): Set<number> {
    let set = this.sites.get(tgid);
    if (set === undefined) {
      const ppid = procStatusField(tgid, "PPid");
      const parent = ppid !== null ? this.sites.get(ppid) : undefined;
      set = new Set(parent ?? []);
      this.sites.set(tgid, set);
    }
    return set;
  }

  /** After an exec: forget old sites and stop at the entry point, where every needed library is mapped. */
  private onExec(tid: number): void {
    this.tgids.delete(tid);
    this.tgids.set(tid, tid);
    this.sites.set(tid, new Set());
    if (!this.o.vm.profile.cpuid) return;
    const entry = auxvEntry(tid);
    if (entry === null || this.peek(tid, entry) === false) return;
    const orig = this.word.slice();
    const patched = this.word.slice();
    patched[0] = 0xcc; // int3
    if (this.poke(tid, entry, patched)) this.entryBreak.set(tid, { addr: entry, orig });
  }

  /** SIGTRAP at entry + 1 of a pending breakpoint: restore, rewind, patch. */
  private entryHit(tid: number): boolean {
    const tgid = this.tgidOf(tid);
    const bp = this.entryBreak.get(tgid);
    if (bp === undefined) return false;
    const c = this.c;
    if (c.ptraceBuf(PTRACE.GETREGS, tid, 0, this.regsBuf.ptr) !== 0) return false;
    loadCpu(this.uregs, this.cpu);
    if (this.cpu.regs.getNumber(Reg.RIP) !== bp.addr + 1) return false;
    this.entryBreak.delete(tgid);
    this.poke(tid, bp.addr, bp.orig);
    this.cpu.regs.set64(Reg.RIP, BigInt(bp.addr));
    storeCpu(this.cpu, this.uregs);
    c.ptraceBuf(PTRACE.SETREGS, tid, 0, this.regsBuf.ptr);
    this.patchAll(tid, tgid);
    return true;
  }

  /** Patch every `cpuid` in the r-x file mappings of `tgid` to `ud2`. */
  private patchAll(tid: number, tgid: number): void {
    const set = this.sitesOf(tgid);
    for (const m of execMappings(tgid)) {
      for (const off of cpuidSites(m.path)) {
        if (off < m.offset || off >= m.offset + (m.end - m.start)) continue;
        const addr = m.start + (off - m.offset);
        if (set.has(addr) || this.peek(tid, addr) === false) continue;
        if (this.word[0] !== 0x0f || this.word[1] !== 0xa2) continue; // not what the file said: leave it
        const w = this.word.slice();
        w[1] = 0x0b; // 0F A2 cpuid → 0F 0B ud2
        if (this.poke(tid, addr, w)) {
          set.add(addr);
          this.counters.patched++;
        }
      }
    }
  }

  /** SIGILL at a patched site: emulate CPUID. */
  private cpuidTrap(tid: number): boolean {
    const set = this.sites.size > 0 ? this.sitesOf(this.tgidOf(tid)) : null;
    if (set === null || set.size === 0) return false;
    const c = this.c;
    if (c.ptraceBuf(PTRACE.GETREGS, tid, 0, this.regsBuf.ptr) !== 0) return false;
    loadCpu(this.uregs, this.cpu);
    const regs = this.cpu.regs;
    const rip = regs.getNumber(Reg.RIP);
    if (!set.has(rip)) return false; // the program's own ud2
    const [a, b, cx, d] = vmwareCpuid(regs.lo(Reg.RAX), regs.lo(Reg.RCX), this.o.vm.profile);
    regs.set32ZeroExtend(Reg.RAX, a);
    regs.set32ZeroExtend(Reg.RBX, b);
    regs.set32ZeroExtend(Reg.RCX, cx);
    regs.set32ZeroExtend(Reg.RDX, d);
    regs.set64(Reg.RIP, BigInt(rip + 2));
    storeCpu(this.cpu, this.uregs);
    if (c.ptraceBuf(PTRACE.SETREGS, tid, 0, this.regsBuf.ptr) !== 0) return false;
    this.counters.cpuids++;
    return true;
  }

  /** Read 8 bytes at `addr` of `pid` into `this.word`. */
  private peek(pid: number, addr: number): boolean {
    this.mem.pid = pid;
    return this.mem.read(addr >>> 0, Math.floor(addr / 0x1_0000_0000), this.word, 0, 8) === 8;
  }

  /** Write 8 bytes with PTRACE_POKEDATA (works on read-only text, unlike process_vm_writev). */
  private poke(pid: number, addr: number, bytes: Uint8Array): boolean {
    const w = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
    return this.c.ptrace(PTRACE.POKEDATA, pid, BigInt(addr), w) === 0;
  }

  private killRest(): void {
    for (const t of this.known) if (t !== this.rootPid) this.c.kill(t, SIG.KILL);
  }
}

/** A numeric field of /proc/PID/status, or null. */
function procStatusField(pid: number, field: string): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** AT_ENTRY of a process, from /proc/PID/auxv (u64 pairs for 64-bit programs, u32 pairs for i386). */
function auxvEntry(pid: number): number | null {
  let auxv: Buffer;
  let is64 = true;
  try {
    auxv = readFileSync(`/proc/${pid}/auxv`);
    const fd = openSync(`/proc/${pid}/exe`, "r");
    const hdr = Buffer.alloc(5);
    readSync(fd, hdr, 0, 5, 0);
    closeSync(fd);
    is64 = hdr[4] === 2;
  } catch {
    return null;
  }
  const AT_ENTRY = 9;
  const step = is64 ? 16 : 8;
  for (let o = 0; o + step <= auxv.length; o += step) {
    const type = is64 ? Number(auxv.readBigUInt64LE(o)) : auxv.readUInt32LE(o);
    if (type === 0) break;
    if (type === AT_ENTRY) return is64 ? Number(auxv.readBigUInt64LE(o + 8)) : auxv.readUInt32LE(o + 4);
  }
  return null;
}

/** PATH from an environment list. */
function envPath(env: string[]): string | undefined {
  const e = env.find((x) => x.startsWith("PATH="));
  return e === undefined ? undefined : e.slice(5);
}
