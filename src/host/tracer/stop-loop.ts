/**
 * The stop loop of `vmport run`: wait for the next stop of any tracee and decide what it is — an emulated backdoor
 * #GP, a CPUID site, the entry-point breakpoint, an executable mmap, a fork/clone/exec event, a group-stop, the
 * start-up stop, an exit — until the root program and every other tracee are gone.
 *
 * Emulates: the hypervisor's exit dispatch for a traced Linux process tree. Source of truth: `docs/tracer.md` §3–§4
 * (the stop table, the start-up race, killing late tracees), `ptrace(2)`.
 * Every other signal is delivered untouched: other SIGSEGVs (a NULL dereference, `inb $0x80`, a user's
 * `kill -SEGV`) reach the program; job control works (group-stops are LISTENed). When the root program exits every
 * other tracee is killed, including one whose first stop comes later.
 * Does not: make system calls for the trap path itself (`gp-trap.ts`, through a {@link Stepper}), patch CPUID
 * (`cpuid-patcher.ts`) or pick CPUs (`placement.ts`: told of every step, trap, new task and exit).
 */
import { ERRNO, PTRACE, PTRACE_EVENT, SIG, type Libc } from "../ptrace/libc.js";
import type { CpuidPatcher } from "./cpuid-patcher.js";
import type { GpTrap } from "./gp-trap.js";
import { EXEC_MMAP_TRACE_DATA } from "./seccomp.js";
import { STEP_KIND } from "./native-step.js";
import type { Stepper } from "./step.js";
import type { Doorbell } from "./spawn.js";
import type { Placement } from "./placement.js";
import { exitCode, hasEnded, killSignal, stopEvent, stopSignal } from "./wait-status.js";

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

/** Counters of the stop loop. */
export interface LoopCounters {
  /** SIGSEGVs delivered to the program (not a backdoor trap). */
  passedSegv: number;
  /** Other signals delivered to the program untouched. */
  signalsPassed: number;
  /** Real group-stops (SIGSTOP and friends), left stopped with PTRACE_LISTEN. */
  groupStops: number;
  /** ptrace event stops (fork, clone, exec, seccomp, …). */
  events: number;
  /** Tracees killed because the root program had exited. */
  killedAfterRoot: number;
  /** Seccomp stops that were not vmport's own rule (a filter the program installed). */
  foreignSeccomp: number;
}

const STOP_SIGNALS = new Set<number>([SIG.STOP, SIG.TSTP, SIG.TTIN, SIG.TTOU]);
/** `VMPORT_DEBUG_TRACER=1` prints every wait result on stderr. */
const DEBUG = process.env["VMPORT_DEBUG_TRACER"] === "1";

/** What the loop works with. */
export interface LoopParts {
  /** The bound libc. */
  c: Libc;
  /** Where stops come from and how threads resume. */
  step: Stepper;
  /** The #GP trap path (the engine). */
  gp: GpTrap;
  /** CPUID patching and emulation. */
  patcher: CpuidPatcher;
  /** The host-side wake-up, or null when nothing can change the host while the program runs. */
  doorbell: Doorbell | null;
  /** CPU placement of the traced threads. */
  placement: Placement;
  /** Host-side changes are waiting (the doorbell rang). */
  onDoorbell?: () => void;
  /** A signal is about to be delivered to `tid` (still stopped: its siginfo and registers can be read). */
  onSignal?: (tid: number, sig: number) => void;
}

/** The loop of one run. */
export class StopLoop {
  /** What the loop did with the stops it saw. */
  readonly counters: LoopCounters = { passedSegv: 0, signalsPassed: 0, groupStops: 0, events: 0, killedAfterRoot: 0, foreignSeccomp: 0 };
  /** Every tracee seen (or announced by a fork/clone event) and not yet exited. */
  private readonly known = new Set<number>();
  private readonly eventMsg: { ptr: unknown; view: Uint8Array };

  constructor(
    private readonly p: LoopParts,
    private readonly rootPid: number,
  ) {
    this.eventMsg = p.c.alloc(8);
  }

  /** Wait for and handle stops until the root program and every other tracee are gone. */
  run(): RunResult {
    const { c, step, gp, patcher, doorbell, placement } = this.p;
    const root = this.rootPid;
    let rootStatus: number | null = null;
    let started = false;
    let rootExeced = false;
    for (;;) {
      const kind = step.next();
      placement.afterStep();
      if (step.writebackFailed) {
        gp.undoTrap(); // the thread vanished before its registers were written back: not emulated after all
        this.counters.passedSegv++;
      }
      if (kind === STEP_KIND.WAIT_ERROR) {
        if (step.err === ERRNO.EINTR) continue;
        break; // ECHILD: nobody left
      }
      const tid = step.tid;
      const s = step.status;
      if (doorbell !== null && tid === doorbell.pid) {
        this.p.onDoorbell?.();
        if (rootStatus === null) doorbell.respawn();
        else doorbell.pid = 0;
        continue;
      }
      if (DEBUG) process.stderr.write(`vmport-trace: tid=${tid} status=0x${s.toString(16)}\n`);
      if (hasEnded(s)) {
        this.known.delete(tid);
        patcher.onExit(tid);
        placement.onExit(tid);
        if (tid === root) {
          rootStatus = s;
          this.killRest(); // the guest never outlives its root program under vmport
          doorbell?.stop();
        }
        continue;
      }
      if (rootStatus !== null) {
        // A stop after the root program exited (a child whose first stop came late): it must not run on.
        this.counters.killedAfterRoot++;
        c.kill(tid, SIG.KILL);
        step.resume(tid, PTRACE.CONT, 0);
        continue;
      }
      const sig = stopSignal(s);
      const event = stopEvent(s);
      if (!started && tid === root) {
        // Start-up race (docs/tracer.md): seized after the trampoline's self-stop ⇒ EVENT_STOP(SIGSTOP):
        // LISTEN + SIGCONT; seized before it ⇒ a SIGSTOP signal-delivery-stop: swallow it. Seized while
        // posix_spawn's exec of the trampoline was still finishing ⇒ an EXEC event comes first: just resume.
        this.known.add(tid);
        if (sig === SIG.STOP && event === PTRACE_EVENT.STOP) {
          started = true;
          step.resume(tid, PTRACE.LISTEN, 0);
          step.flush(); // LISTEN before the SIGCONT
          c.kill(tid, SIG.CONT);
        } else if (sig === SIG.STOP && event === 0) {
          started = true;
          step.resume(tid, PTRACE.CONT, 0);
        } else step.resume(tid, PTRACE.CONT, event !== 0 ? 0 : sig);
        continue;
      }
      if (event !== 0) {
        this.counters.events++;
        this.onEvent(tid, sig, event);
        if (event === PTRACE_EVENT.EXEC && tid === root) rootExeced = true;
        continue;
      }
      if (sig === (SIG.TRAP | 0x80) && patcher.mmapExit(tid)) {
        step.resume(tid, PTRACE.CONT, 0); // the syscall-exit stop of an executable mmap: patched
        continue;
      }
      this.known.add(tid);
      if (kind === STEP_KIND.TRAP) {
        // The native step fetched everything; the write-back goes out with the next step.
        placement.onTrap(tid);
        if (gp.fromStep(tid, step.native!)) {
          step.resumeTrap(tid);
          continue;
        }
      } else if (sig === SIG.SEGV && gp.fromStop(tid)) {
        step.resume(tid, PTRACE.CONT, 0); // registers already written back
        continue;
      }
      if ((sig === SIG.ILL && patcher.cpuidTrap(tid)) || (sig === SIG.TRAP && patcher.entryHit(tid))) {
        step.resume(tid, PTRACE.CONT, 0);
        continue;
      }
      if (sig === SIG.SEGV) this.counters.passedSegv++;
      else this.counters.signalsPassed++;
      this.p.onSignal?.(tid, sig);
      step.resume(tid, PTRACE.CONT, sig); // deliver the signal untouched
    }
    const st = rootStatus ?? 0;
    const signal = killSignal(st);
    const code = exitCode(st);
    return {
      exitStatus: signal !== null ? 128 + signal : code,
      signal,
      traps: gp.traps,
      passedSegv: this.counters.passedSegv,
      // The trampoline exits with the errno of a failed execve; without an exec event the program never ran.
      execErrno: !rootExeced && signal === null && code !== 0 ? code : null,
    };
  }

  /** PTRACE_GETEVENTMSG of a stopped tracee (a new tid, or a seccomp rule's data), or -1. */
  private eventMessage(tid: number): number {
    if (this.p.c.ptraceBuf(PTRACE.GETEVENTMSG, tid, 0, this.eventMsg.ptr) !== 0) return -1;
    const v = this.eventMsg.view;
    return v[0]! | (v[1]! << 8) | (v[2]! << 16) | (v[3]! * 0x1000000);
  }

  /** A ptrace event stop. */
  private onEvent(tid: number, sig: number, event: number): void {
    const { step, patcher, placement } = this.p;
    if (event === PTRACE_EVENT.STOP) {
      if (this.known.has(tid) && STOP_SIGNALS.has(sig)) {
        this.counters.groupStops++;
        step.resume(tid, PTRACE.LISTEN, 0); // a real group-stop: stays stopped until SIGCONT
      } else {
        this.known.add(tid); // a new child or thread's first stop
        step.resume(tid, PTRACE.CONT, 0);
      }
      return;
    }
    if (event === PTRACE_EVENT.SECCOMP) {
      if (this.eventMessage(tid) !== EXEC_MMAP_TRACE_DATA) {
        this.counters.foreignSeccomp++; // a filter the program installed itself: let the call go on
        step.resume(tid, PTRACE.CONT, 0);
        return;
      }
      // An executable file mapping is about to be made. Nothing to patch: go on; else stop at its exit. Not a
      // placement point: a program that loads its libraries and then computes never stops again, so a mask set
      // here would tie it to the tracer's CPU for good (docs/tracer.md §8).
      step.resume(tid, patcher.mmapEntry(tid) ? PTRACE.SYSCALL : PTRACE.CONT, 0);
      return;
    }
    if (event === PTRACE_EVENT.FORK || event === PTRACE_EVENT.VFORK || event === PTRACE_EVENT.CLONE) {
      const child = this.eventMessage(tid);
      if (child > 0) {
        this.known.add(child); // killed with the rest even if its first stop has not been seen yet
        patcher.onNewTask(tid, child);
        placement.onNewTask(tid, child);
      }
    } else if (event === PTRACE_EVENT.EXEC) patcher.onExec(tid);
    step.resume(tid, PTRACE.CONT, 0); // fork, vfork, clone, exec, exit events
  }

  private killRest(): void {
    for (const t of this.known) {
      if (t === this.rootPid) continue;
      this.p.c.kill(t, SIG.KILL);
      this.counters.killedAfterRoot++;
    }
  }
}
