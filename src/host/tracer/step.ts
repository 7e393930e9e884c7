/**
 * Where the stop loop gets its next stop from and how it resumes threads: the native step (one call per trap:
 * `native-step.ts`) or the JavaScript step (one koffi call per system call: the fallback, and the reference the
 * native step is tested against).
 *
 * Emulates: nothing. Source of truth: `docs/tracer.md` §4. With the native step a resume is deferred: it is made
 * by the next step, right before its wait, together with the register write-back of an emulated trap; nothing
 * touches a thread between its resume being asked and being made, so the order the program sees is unchanged.
 * Does not: classify stops (the stop loop does) or emulate anything (`gp-trap.ts`).
 */
import { ERRNO, PTRACE, SIG, USER_REGS_SIZE, WALL, WNOTHREAD, type Libc } from "../ptrace/libc.js";
import { REGISTER_COUNT } from "../../x86/registers.js";
import { storeRegisterWords } from "./user-regs.js";
import { createNativeStep, RESUME_SETREGS, STEP, STEP_KIND, type NativeStep } from "./native-step.js";

/** Counters of a stepper. */
export interface StepCounters {
  /** Calls into the native step (0 with the JavaScript step). */
  nativeSteps: number;
}

/** The source of stops. */
export interface Stepper {
  /** The native step's block, or null for the JavaScript step. */
  readonly native: NativeStep | null;
  /** What the stepper did. */
  readonly counters: StepCounters;
  /** Thread of the last stop. */
  tid: number;
  /** Its wait status. */
  status: number;
  /** errno when {@link next} returned {@link STEP_KIND.WAIT_ERROR}. */
  err: number;
  /** CPU the tracer thread was on when it saw the stop, or -1. */
  cpu: number;
  /** TSC when the stop was seen, as 32-bit halves (both 0 when unknown: the JavaScript step). */
  stopTscLo: number;
  /** High half of the stop's TSC. */
  stopTscHi: number;
  /** The thread the last {@link next} resumed before waiting (0: none), and the TSC right before that resume. */
  resumedTid: number;
  /** Low half of the TSC right before that resume. */
  resumeTscLo: number;
  /** High half of the TSC right before that resume. */
  resumeTscHi: number;
  /** True when the register write-back of the previous trap failed (the thread had vanished). */
  writebackFailed: boolean;
  /** Wait for the next stop (EINTR is retried): one of {@link STEP_KIND}. */
  next(): number;
  /** Resume `tid` with `request` (PTRACE_CONT, PTRACE_SYSCALL, PTRACE_LISTEN) and signal `sig`. */
  resume(tid: number, request: number, sig: number): void;
  /** Resume a trap the native step fetched ({@link STEP_KIND.TRAP}) without its signal, writing its registers back. */
  resumeTrap(tid: number): void;
  /** Make a deferred resume now (before a call whose order relative to it matters). */
  flush(): void;
}

/** The JavaScript step: waitpid and ptrace through koffi, one call each. */
export class JsStepper implements Stepper {
  readonly native = null;
  readonly counters: StepCounters = { nativeSteps: 0 };
  tid = 0;
  status = 0;
  err = 0;
  cpu = -1;
  stopTscLo = 0;
  stopTscHi = 0;
  resumedTid = 0;
  resumeTscLo = 0;
  resumeTscHi = 0;
  writebackFailed = false;
  private readonly st = new Int32Array(1);

  constructor(private readonly c: Libc) {}

  next(): number {
    const c = this.c;
    for (;;) {
      const tid = c.waitpid(-1, this.st, WALL | WNOTHREAD);
      if (tid < 0) {
        const e = c.errno();
        if (e === ERRNO.EINTR) continue;
        this.err = e;
        return STEP_KIND.WAIT_ERROR;
      }
      this.tid = tid;
      this.status = this.st[0]!;
      return STEP_KIND.OTHER;
    }
  }

  resume(tid: number, request: number, sig: number): void {
    this.c.ptrace(request, tid, 0, sig);
  }

  resumeTrap(): void {
    throw new Error("the JavaScript step reports no native traps");
  }

  flush(): void {}
}

const W = (off: number) => off >> 2;

/** The native step: one call per stop; resumes go out with the next call. */
export class NativeStepper implements Stepper {
  readonly native: NativeStep;
  readonly counters: StepCounters = { nativeSteps: 0 };
  tid = 0;
  status = 0;
  err = 0;
  cpu = -1;
  stopTscLo = 0;
  stopTscHi = 0;
  resumedTid = 0;
  resumeTscLo = 0;
  resumeTscHi = 0;
  writebackFailed = false;
  private trapPending = false;
  private flushFailed = false;

  constructor(private readonly c: Libc) {
    this.native = createNativeStep();
    this.native.words[W(STEP.WAIT_FLAGS)] = WALL | WNOTHREAD;
  }

  next(): number {
    const s = this.native;
    const w = s.words;
    const hadTrap = this.trapPending;
    this.trapPending = false;
    this.resumedTid = w[W(STEP.RESUME_TID)]!;
    const kind = s.call(s.block);
    this.counters.nativeSteps++;
    if (this.resumedTid !== 0) {
      this.resumeTscLo = w[W(STEP.RESUME_TSC)]! >>> 0;
      this.resumeTscHi = w[W(STEP.RESUME_TSC) + 1]! >>> 0;
    }
    this.writebackFailed = this.flushFailed || (hadTrap && w[W(STEP.SETREGS_RET)]! < 0);
    this.flushFailed = false;
    if (kind === STEP_KIND.WAIT_ERROR) {
      this.err = w[W(STEP.ERR)]!;
      return kind;
    }
    this.tid = w[W(STEP.TID)]!;
    this.status = w[W(STEP.STATUS)]!;
    this.cpu = w[W(STEP.CPU)]!;
    this.stopTscLo = w[W(STEP.STOP_TSC)]! >>> 0;
    this.stopTscHi = w[W(STEP.STOP_TSC) + 1]! >>> 0;
    return kind;
  }

  private defer(tid: number, request: number, sig: number, flags: number): void {
    const w = this.native.words;
    if (w[W(STEP.RESUME_TID)] !== 0) this.flush();
    w[W(STEP.RESUME_TID)] = tid;
    w[W(STEP.RESUME_REQ)] = request;
    w[W(STEP.RESUME_SIG)] = sig;
    w[W(STEP.RESUME_FLAGS)] = flags;
  }

  resume(tid: number, request: number, sig: number): void {
    this.defer(tid, request, sig, 0);
  }

  resumeTrap(tid: number): void {
    this.trapPending = true;
    this.defer(tid, PTRACE.CONT, 0, RESUME_SETREGS);
  }

  flush(): void {
    const s = this.native;
    const w = s.words;
    const tid = w[W(STEP.RESUME_TID)]!;
    if (tid === 0) return;
    w[W(STEP.RESUME_TID)] = 0;
    let request = w[W(STEP.RESUME_REQ)]!;
    let sig = w[W(STEP.RESUME_SIG)]!;
    if ((w[W(STEP.RESUME_FLAGS)]! & RESUME_SETREGS) !== 0) {
      this.trapPending = false;
      const b = s.bytes;
      storeRegisterWords(
        new Uint32Array(b.buffer, b.byteOffset + STEP.ENGINE_REGS, REGISTER_COUNT * 2),
        new Uint32Array(b.buffer, b.byteOffset + STEP.REGS, USER_REGS_SIZE / 4),
      );
      if (this.c.ptraceBuf(PTRACE.SETREGS, tid, 0, s.bytes.subarray(STEP.REGS, STEP.INSN)) !== 0) {
        this.flushFailed = true;
        request = PTRACE.CONT;
        sig = SIG.SEGV;
      }
    }
    this.c.ptrace(request, tid, 0, sig);
  }
}

/**
 * The stepper to use: the native step unless `VMPORT_NATIVE_STEP=0` (or `native` is false), or when it cannot be
 * made here (then the JavaScript step, silently: it gives the same results, one call per system call).
 */
export function createStepper(c: Libc, native = process.env["VMPORT_NATIVE_STEP"] !== "0"): Stepper {
  if (!native) return new JsStepper(c);
  try {
    return new NativeStepper(c);
  } catch {
    return new JsStepper(c);
  }
}
