/**
 * The trap engine of `vmport run`: spawn, seize and wait from one thread, emulate backdoor #GPs in that thread.
 *
 * Emulates: the hypervisor's #GP intercept for a real Linux process. A ring-3 `in`/`out`/`rep ins`/`rep outs`/
 * `rdpmc` on the backdoor faults; Linux turns the #GP into SIGSEGV with `si_code` SI_KERNEL; the tracer sees the
 * signal-delivery-stop, decodes and emulates the instruction with the engine, writes the registers back and
 * resumes the thread without the signal. Every other stop is passed through untouched: other SIGSEGVs (a NULL
 * dereference, `inb $0x80`, a user's `kill -SEGV`) are delivered; job control works (group-stops are LISTENed);
 * fork, vfork, clone and exec are followed. CPUID virtualisation is `cpuid-patcher.ts`.
 * Source of truth: `docs/tracer.md` (measured design: posix_spawn from the tracer thread with fds 0–2 dup2'ed
 * onto themselves and every signal reset to default; the static self-stopping trampoline; the start-up race;
 * stop classification); `ptrace(2)`.
 * The guest never outlives its root program, and cannot leave the tracer: the syscall policy (`seccomp.ts`)
 * refuses `ptrace`, `clone(CLONE_UNTRACED)` and `clone3`, so every descendant is a tracee; PTRACE_O_EXITKILL
 * kills them all if vmport dies (SIGKILL included); when the root program exits, every other tracee is killed,
 * including one whose first stop comes later.
 * Does not: run on anything but Linux x86-64 with ptrace.
 */
import { CpuState } from "../../x86/cpu-state.js";
import { Outcome } from "../../vm/exit-result.js";
import type { VirtualMachine } from "../../vm/virtual-machine.js";
import { ERRNO, PTRACE, PTRACE_EVENT, PTRACE_O, SIG, SI_KERNEL, USER_REGS_SIZE, WALL, WNOTHREAD, libc, type Libc } from "../ptrace/libc.js";
import { PtraceMemory } from "./ptrace-memory.js";
import { EXEC_MMAP_TRACE_DATA, policyProgram } from "./seccomp.js";
import { loadCpu, storeCpu } from "./user-regs.js";
import { trampolinePath } from "./trampoline.js";
import { CpuidPatcher } from "./cpuid-patcher.js";
import type { ExecPlan } from "./program.js";
import { blockingFlags, type StdioPlan } from "../stdio.js";

/** Options of one traced run. */
export interface TracerOptions {
  /** What to execute (resolved by `resolveExec`). */
  exec: ExecPlan;
  /** Environment as `KEY=VALUE`. */
  env: string[];
  /** The VM whose backdoor the program talks to. */
  vm: VirtualMachine;
  /** Pin the tracer thread and the tracee to this CPU, or null. */
  pinCpu: number | null;
  /** Install the syscall policy (default true). */
  seccomp?: boolean;
  /** Descriptors 0–2 for the program (default: vmport's own, all open, blocking). */
  stdio?: StdioPlan;
  /** Working directory of the program (default: vmport's). */
  cwd?: string | null;
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
  /** The root program's exit code, or 128 + signal; 126/127 when it could not be executed. */
  exitStatus: number;
  /** Signal that killed the root program, or null. */
  signal: number | null;
  /** Backdoor accesses emulated. */
  traps: number;
  /** SIGSEGVs passed through to the program. */
  passedSegv: number;
  /** errno of a failed `execve` of the program (it never ran), or null. */
  execErrno: number | null;
}

/** Per-run counters exposed for tests, `--verbose` and benchmarks. */
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
  /** Tracees killed because the root program had exited. */
  killedAfterRoot: number;
  /** Seccomp stops that were not vmport's own rule (a filter the program installed). */
  foreignSeccomp: number;
}

const STOP_SIGNALS = new Set<number>([SIG.STOP, SIG.TSTP, SIG.TTIN, SIG.TTOU]);
/** `VMPORT_DEBUG_TRACER=1` prints every wait result on stderr. */
const DEBUG = process.env["VMPORT_DEBUG_TRACER"] === "1";
const F_GETFL = 3;
const F_SETFL = 4;
const SYS_FCNTL = 72;

/** One tracer; `run()` blocks the calling thread until the root program exits. */
export class Tracer {
  readonly counters: TracerCounters = { traps: 0, cpuids: 0, patched: 0, passedSegv: 0, signalsPassed: 0, groupStops: 0, events: 0, killedAfterRoot: 0, foreignSeccomp: 0 };
  private readonly c: Libc = libc();
  private readonly status = new Int32Array(1);
  private readonly regsBuf = this.c.alloc(USER_REGS_SIZE);
  private readonly uregs = new Uint32Array(this.regsBuf.view.buffer, this.regsBuf.view.byteOffset, USER_REGS_SIZE / 4);
  private readonly siginfo = this.c.alloc(128);
  private readonly eventMsg = this.c.alloc(8);
  private readonly cpu = new CpuState();
  private readonly mem = new PtraceMemory(this.c);
  /** Every tracee seen (or announced by a fork/clone event) and not yet exited. */
  private readonly known = new Set<number>();
  readonly patcher: CpuidPatcher;
  /** Root program pid (the trampoline, then the program it execs). */
  rootPid = 0;
  /** Write end of the doorbell pipe (O_CLOEXEC); another thread writes one byte to wake the wait loop. */
  doorbellFd = -1;
  private doorbellRead = -1;
  private doorbellPid = 0;

  constructor(private readonly o: TracerOptions) {
    this.patcher = new CpuidPatcher(this.c, o.vm.profile);
  }

  /** Clear O_NONBLOCK on descriptors 0–2 (Node's libuv set it on pipes; the program shares the descriptions). */
  private restoreStdioFlags(plan: StdioPlan): void {
    for (const fd of [0, 1, 2]) {
      if (plan.closed[fd] || (plan.fds?.[fd] ?? fd) !== fd) continue; // only vmport's own descriptors are shared
      const cur = this.c.syscall6(SYS_FCNTL, fd, F_GETFL, 0, 0, 0, 0);
      if (cur < 0) continue;
      const want = blockingFlags(cur);
      if (want !== null) this.c.syscall6(SYS_FCNTL, fd, F_SETFL, want, 0, 0, 0);
    }
  }

  /** Spawn the program under the trampoline and seize it. Throws with a clear message on failure. */
  spawn(): number {
    const c = this.c;
    if (this.o.pinCpu !== null) this.pin(0);
    const stdio = this.o.stdio ?? { closed: [false, false, false] };
    this.restoreStdioFlags(stdio);
    const fa = c.alloc(80);
    const attr = c.alloc(336);
    c.faInit(fa.ptr);
    for (const fd of [0, 1, 2]) {
      const src = stdio.fds?.[fd] ?? fd;
      if (stdio.closed[fd] || src < 0) c.faAddClose(fa.ptr, fd); // closed when vmport started: closed for the program too
      else c.faAddDup2(fa.ptr, src, fd); // clears FD_CLOEXEC, which Node sets on 0–2
    }
    if (this.o.cwd != null && c.faAddChdir(fa.ptr, this.o.cwd) !== 0) throw new Error(`cannot use ${this.o.cwd} as the working directory`);
    c.attrInit(attr.ptr);
    c.attrSetSigDefault(attr.ptr, new Uint8Array(128).fill(0xff)); // Node ignores SIGPIPE/SIGXFSZ: reset all
    c.attrSetSigMask(attr.ptr, new Uint8Array(128));
    c.attrSetFlags(attr.ptr, 0x04 | 0x08); // POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
    const tramp = trampolinePath(this.o.seccomp !== false ? policyProgram(this.o.vm.profile.cpuid) : []);
    const argv = [tramp, this.o.exec.path, ...this.o.exec.argv, null];
    const envp = [...this.o.env, null];
    const pid = new Int32Array(1);
    const rc = c.posixSpawn(pid, tramp, fa.ptr, attr.ptr, argv, envp);
    c.faDestroy(fa.ptr);
    c.attrDestroy(attr.ptr);
    if (rc !== 0) throw new Error(`posix_spawn failed (error ${rc})`);
    this.rootPid = pid[0]!;
    let opts = PTRACE_O.TRACEFORK | PTRACE_O.TRACEVFORK | PTRACE_O.TRACECLONE | PTRACE_O.TRACEEXEC | PTRACE_O.EXITKILL;
    if (this.o.seccomp !== false) opts |= PTRACE_O.TRACESECCOMP | PTRACE_O.TRACESYSGOOD;
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

  /**
   * Close the doorbell pipe after {@link run} (a process may run many tracers one after the other). With
   * `keepWriteEnd`, {@link doorbellFd} stays open: another thread may still ring it, and closes it itself (a
   * descriptor closed under a writer could be reused by an unrelated file, which the ring would then write to).
   */
  closeDoorbell(keepWriteEnd = false): void {
    if (this.doorbellRead >= 0) this.c.close(this.doorbellRead);
    this.doorbellRead = -1;
    if (!keepWriteEnd && this.doorbellFd >= 0) this.c.close(this.doorbellFd);
    if (!keepWriteEnd) this.doorbellFd = -1;
  }

  private pin(pid: number): void {
    const mask = new Uint8Array(128);
    const cpu = this.o.pinCpu!;
    mask[cpu >> 3] = 1 << (cpu & 7);
    this.c.schedSetaffinity(pid, 128, mask);
  }

  /** PTRACE_GETEVENTMSG of a stopped tracee (a new tid, or a seccomp rule's data), or -1. */
  private eventMessage(tid: number): number {
    if (this.c.ptraceBuf(PTRACE.GETEVENTMSG, tid, 0, this.eventMsg.ptr) !== 0) return -1;
    const v = this.eventMsg.view;
    return v[0]! | (v[1]! << 8) | (v[2]! << 16) | (v[3]! * 0x1000000);
  }

  /** Wait for and handle stops until the root program and every other tracee are gone. */
  run(): RunResult {
    const c = this.c;
    let rootStatus: number | null = null;
    let started = false;
    let rootExeced = false;
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
        this.patcher.onExit(tid);
        if (tid === this.rootPid) {
          rootStatus = s;
          this.killRest(); // the guest never outlives its root program under vmport
          if (this.doorbellPid > 0) c.kill(this.doorbellPid, SIG.KILL);
        }
        continue;
      }
      if (rootStatus !== null) {
        // A stop after the root program exited (a child whose first stop came late): it must not run on.
        this.counters.killedAfterRoot++;
        c.kill(tid, SIG.KILL);
        c.ptrace(PTRACE.CONT, tid, 0, 0);
        continue;
      }
      const sig = (s >> 8) & 0xff;
      const event = (s >> 16) & 0xff;
      if (!started && tid === this.rootPid) {
        // Start-up race (docs/tracer.md): seized after the trampoline's self-stop ⇒ EVENT_STOP(SIGSTOP):
        // LISTEN + SIGCONT; seized before it ⇒ a SIGSTOP signal-delivery-stop: swallow it. Seized while
        // posix_spawn's exec of the trampoline was still finishing ⇒ an EXEC event comes first: just resume.
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
        this.onEvent(tid, sig, event);
        if (event === PTRACE_EVENT.EXEC && tid === this.rootPid) rootExeced = true;
        continue;
      }
      if (sig === (SIG.TRAP | 0x80) && this.patcher.mmapExit(tid)) {
        c.ptrace(PTRACE.CONT, tid, 0, 0); // the syscall-exit stop of an executable mmap: patched
        continue;
      }
      this.known.add(tid);
      if (sig === SIG.SEGV && this.trap(tid)) {
        c.ptrace(PTRACE.CONT, tid, 0, 0);
        continue;
      }
      if ((sig === SIG.ILL && this.patcher.cpuidTrap(tid)) || (sig === SIG.TRAP && this.patcher.entryHit(tid))) {
        c.ptrace(PTRACE.CONT, tid, 0, 0);
        continue;
      }
      if (sig === SIG.SEGV) this.counters.passedSegv++;
      else this.counters.signalsPassed++;
      c.ptrace(PTRACE.CONT, tid, 0, sig); // deliver the signal untouched
    }
    Object.assign(this.counters, { cpuids: this.patcher.counters.cpuids, patched: this.patcher.counters.patched });
    const st = rootStatus ?? 0;
    const signal = (st & 0x7f) !== 0 ? st & 0x7f : null;
    const code = (st >> 8) & 0xff;
    return {
      exitStatus: signal !== null ? 128 + signal : code,
      signal,
      traps: this.counters.traps,
      passedSegv: this.counters.passedSegv,
      // The trampoline exits with the errno of a failed execve; without an exec event the program never ran.
      execErrno: !rootExeced && signal === null && code !== 0 ? code : null,
    };
  }

  /** A ptrace event stop. */
  private onEvent(tid: number, sig: number, event: number): void {
    const c = this.c;
    if (event === PTRACE_EVENT.STOP) {
      if (this.known.has(tid) && STOP_SIGNALS.has(sig)) {
        this.counters.groupStops++;
        c.ptrace(PTRACE.LISTEN, tid, 0, 0); // a real group-stop: stays stopped until SIGCONT
      } else {
        this.known.add(tid); // a new child or thread's first stop
        c.ptrace(PTRACE.CONT, tid, 0, 0);
      }
      return;
    }
    if (event === PTRACE_EVENT.SECCOMP) {
      if (this.eventMessage(tid) !== EXEC_MMAP_TRACE_DATA) {
        this.counters.foreignSeccomp++; // a filter the program installed itself: let the call go on
        c.ptrace(PTRACE.CONT, tid, 0, 0);
        return;
      }
      // An executable file mapping is about to be made. Nothing to patch: go on; else stop at its exit.
      c.ptrace(this.patcher.mmapEntry(tid) ? PTRACE.SYSCALL : PTRACE.CONT, tid, 0, 0);
      return;
    }
    if (event === PTRACE_EVENT.FORK || event === PTRACE_EVENT.VFORK || event === PTRACE_EVENT.CLONE) {
      const child = this.eventMessage(tid);
      if (child > 0) {
        this.known.add(child); // killed with the rest even if its first stop has not been seen yet
        this.patcher.onNewTask(tid, child);
      }
    } else if (event === PTRACE_EVENT.EXEC) this.patcher.onExec(tid);
    c.ptrace(PTRACE.CONT, tid, 0, 0); // fork, vfork, clone, exec, exit events
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

  private killRest(): void {
    for (const t of this.known) {
      if (t === this.rootPid) continue;
      this.c.kill(t, SIG.KILL);
      this.counters.killedAfterRoot++;
    }
  }
}
