/**
 * The trap engine of `vmport run`: spawn, seize and wait from one thread, emulate backdoor #GPs in that thread.
 *
 * Emulates: the hypervisor's #GP intercept for a real Linux process. A ring-3 `in`/`out`/`rep ins`/`rep outs`/
 * `rdpmc` on the backdoor faults; Linux turns the #GP into SIGSEGV with `si_code` SI_KERNEL; the tracer sees the
 * signal-delivery-stop, decodes and emulates the instruction with the engine, writes the registers back and
 * resumes the thread without the signal.
 * Source of truth: `docs/tracer.md` (measured design, pitfalls, the stop table); `ptrace(2)`.
 * The parts: `spawn.ts` (posix_spawn under the trampoline, PTRACE_SEIZE, the doorbell), `stop-loop.ts` (the wait
 * loop and what each stop is; `wait-status.ts` decodes the status), `gp-trap.ts` (the #GP trap path),
 * `step.ts` + `native-step.ts` (how stops are fetched: one native call per trap, or the JavaScript fallback),
 * `cpuid-patcher.ts` (CPUID), `placement.ts` (CPU placement).
 * The guest never outlives its root program, and cannot leave the tracer: the syscall policy (`seccomp.ts`)
 * refuses `ptrace`, `clone(CLONE_UNTRACED)` and `clone3`, so every descendant is a tracee; PTRACE_O_EXITKILL
 * kills them all if vmport dies (SIGKILL included); when the root program exits, every other tracee is killed,
 * including one whose first stop comes later.
 * Does not: run on anything but Linux x86-64 with ptrace.
 */
import type { VirtualMachine } from "../../vm/virtual-machine.js";
import { libc, type Libc } from "../ptrace/libc.js";
import { policyProgram } from "./seccomp.js";
import { trampolinePath } from "./trampoline.js";
import { CpuidPatcher } from "./cpuid-patcher.js";
import type { ExecPlan } from "./program.js";
import type { StdioPlan } from "../stdio.js";
import { Doorbell, spawnSeized } from "./spawn.js";
import { GpTrap } from "./gp-trap.js";
import { createStepper, type Stepper } from "./step.js";
import { prepareNativeStep } from "./native-step.js";
import { Placement, type PlacementPolicy } from "./placement.js";
import { StopLoop, type LoopCounters, type RunResult } from "./stop-loop.js";

export type { RunResult } from "./stop-loop.js";

/** Options of one traced run. */
export interface TracerOptions {
  /** What to execute (resolved by `resolveExec`). */
  exec: ExecPlan;
  /** Environment as `KEY=VALUE`. */
  env: string[];
  /** The VM whose backdoor the program talks to. */
  vm: VirtualMachine;
  /** Pin the tracer thread and the tracee to this CPU, or null for the default placement ({@link placement}). */
  pinCpu: number | null;
  /**
   * CPU placement when `pinCpu` is null (default `follow`, see `placement.ts`); `VMPORT_PLACEMENT=none|follow`
   * overrides it (for measurements).
   */
  placement?: PlacementPolicy;
  /** Use the native step (default true; `VMPORT_NATIVE_STEP=0` selects the JavaScript step). */
  nativeStep?: boolean;
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
  /** Called before a signal is delivered to a stopped tracee (`vmport fuzz` reads how a program crashed). */
  onSignal?: (tid: number, sig: number) => void;
}

/** Per-run counters exposed for tests, `--verbose` and benchmarks. */
export interface TracerCounters extends LoopCounters {
  /** Backdoor traps emulated. */
  traps: number;
  /** CPUID instructions emulated. */
  cpuids: number;
  /** `cpuid` sites patched to `ud2`. */
  patched: number;
  /** Calls into the native step (0 with the JavaScript step). */
  nativeSteps: number;
  /** Threads moved to the tracer's CPU by the placement. */
  follows: number;
  /** Times the program became multi-threaded and placed threads were released. */
  releases: number;
}

/**
 * Bind libc, check the trampoline of the default profile on disk and assemble the native step now (a worker started
 * early does this while it waits for its job).
 */
export function warmTracer(): void {
  libc();
  trampolinePath(policyProgram(true));
  try {
    prepareNativeStep();
  } catch {
    // No executable memory here: the tracer will use the JavaScript step (`createStepper`).
  }
}

/** The placement policy from the options and `VMPORT_PLACEMENT`. */
function placementPolicy(o: TracerOptions): PlacementPolicy {
  if (o.pinCpu !== null) return { mode: "pin", cpu: o.pinCpu };
  const env = process.env["VMPORT_PLACEMENT"];
  if (env === "none" || env === "follow") return { mode: env };
  return o.placement ?? { mode: "follow" };
}

/** One tracer; `run()` blocks the calling thread until the root program exits. */
export class Tracer {
  /** The CPUID patcher of this run. */
  readonly patcher: CpuidPatcher;
  /** Root program pid (the trampoline, then the program it execs). */
  rootPid = 0;
  /** Write end of the doorbell pipe (O_CLOEXEC); another thread writes one byte to wake the wait loop. */
  doorbellFd = -1;
  private readonly c: Libc = libc();
  private readonly step: Stepper;
  private readonly gp: GpTrap;
  private readonly placement: Placement;
  private doorbell: Doorbell | null = null;
  private loop: StopLoop | null = null;

  constructor(private readonly o: TracerOptions) {
    this.patcher = new CpuidPatcher(this.c, o.vm.profile);
    this.step = createStepper(this.c, o.nativeStep ?? process.env["VMPORT_NATIVE_STEP"] !== "0");
    this.gp = new GpTrap(this.c, o.vm, o.afterTrap, this.step.native);
    this.placement = new Placement(this.c, placementPolicy(o), this.step);
  }

  /** The counters now (also while {@link run} runs: the control plane reads them live). */
  get counters(): TracerCounters {
    const loop = this.loop?.counters ?? {
      passedSegv: 0,
      signalsPassed: 0,
      groupStops: 0,
      events: 0,
      killedAfterRoot: 0,
      foreignSeccomp: 0,
    };
    return {
      ...loop,
      ...this.step.counters,
      traps: this.gp.traps,
      cpuids: this.patcher.counters.cpuids,
      patched: this.patcher.counters.patched,
      follows: this.placement.counters.follows,
      releases: this.placement.counters.releases,
    };
  }

  /**
   * Spawn the program under the trampoline and seize it.
   * @throws VmportError VMPORT_SPAWN_FAILED or VMPORT_PTRACE_DENIED
   */
  spawn(): number {
    this.placement.beforeSpawn();
    const trampoline = trampolinePath(this.o.seccomp !== false ? policyProgram(this.o.vm.profile.cpuid) : []);
    this.rootPid = spawnSeized(this.c, {
      exec: this.o.exec,
      env: this.o.env,
      trampoline,
      seccomp: this.o.seccomp !== false,
      stdio: this.o.stdio ?? { closed: [false, false, false] },
      cwd: this.o.cwd ?? null,
    });
    this.placement.afterSpawn(this.rootPid);
    this.doorbell = new Doorbell(this.c);
    this.doorbellFd = this.doorbell.fd;
    return this.rootPid;
  }

  /**
   * Close the doorbell pipe after {@link run} (a process may run many tracers one after the other). With
   * `keepWriteEnd`, {@link doorbellFd} stays open: another thread may still ring it, and closes it itself (a
   * descriptor closed under a writer could be reused by an unrelated file, which the ring would then write to).
   */
  closeDoorbell(keepWriteEnd = false): void {
    this.doorbell?.close(keepWriteEnd);
    if (!keepWriteEnd) this.doorbellFd = -1;
  }

  /** Wait for and handle stops until the root program and every other tracee are gone. */
  run(): RunResult {
    const parts = { c: this.c, step: this.step, gp: this.gp, patcher: this.patcher, doorbell: this.doorbell, placement: this.placement };
    const withBell = this.o.onDoorbell !== undefined ? { ...parts, onDoorbell: this.o.onDoorbell } : parts;
    this.loop = new StopLoop(this.o.onSignal !== undefined ? { ...withBell, onSignal: this.o.onSignal } : withBell, this.rootPid);
    return this.loop.run();
  }
}
