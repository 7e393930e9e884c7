/**
 * Where the tracer thread and the traced threads run. Every trap is two wake-ups (the stopped thread wakes the
 * tracer, the tracer's resume wakes the thread); on a virtual machine a wake-up from one CPU to another costs tens
 * of microseconds, several times the rest of the trap, so where the threads sit sets the trap cost.
 *
 * Policies (the measurements behind the default are in `docs/performance.md`, the design in `docs/tracer.md` §8):
 * - `follow` (the default): a traced thread that traps often runs on the tracer thread's CPU — at a backdoor trap
 *   seen on another CPU than the one it was placed on, its affinity becomes the tracer's CPU, so the two wake each
 *   other on one CPU. While threads follow it, the tracer thread keeps that CPU too (an idle CPU would otherwise keep
 *   pulling it away), and every {@link TRACER_RECHECK_MS} ms it is let free for one trap so that the scheduler can
 *   move it off a CPU that got busy; the threads then follow it. Only traps count: a thread whose stops are system
 *   calls (mmaps, exec) is left to the scheduler (a program that loads its libraries and then computes never stops
 *   again, so a mask set at a load would tie it to the tracer's CPU for good), and a new thread or child never
 *   inherits a mask vmport set. A
 *   thread that computes between traps (it ran more than {@link RELEASE_RUN_US} µs since it was last resumed,
 *   {@link RELEASE_AFTER} times in a row) gets its affinity back, so the threads of a multi-threaded program spread
 *   over the CPUs; it follows again once it traps within {@link FOLLOW_RUN_US} µs of its resume. A program with one
 *   thread always follows. Threads that only trap gain nothing from a second CPU: every trap goes through the one
 *   tracer thread.
 * - `pin` (`--pin CPU`): the tracer thread and the program (inherited by every child and thread) on one CPU.
 * - `none`: nothing is changed (the kernel decides).
 * A thread whose affinity the program itself changed (`sched_setaffinity`, `taskset` inside the guest) is left
 * alone from then on: vmport only ever replaces a mask it set or the one the thread had at start.
 * Run times come from the native step's TSC readings (taken right before a resume and when a stop is seen); the
 * TSC rate is calibrated against the monotonic clock during the first {@link CALIBRATION_MS} ms of traps; until
 * then only a program with one thread is placed. With the JavaScript step (no CPU or TSC readings) `follow` changes
 * nothing.
 * Emulates: nothing. Source of truth: `sched_setaffinity(2)`; `docs/performance.md` (the policy's numbers).
 * Does not: pin anything to a CPU outside the set vmport itself was allowed at start.
 */
import type { Libc } from "../ptrace/libc.js";
import type { Stepper } from "./step.js";

/** A placement policy. */
export type PlacementPolicy = { mode: "pin"; cpu: number } | { mode: "follow" } | { mode: "none" };

/** A thread that ran at most this long between its resume and its next stop follows the tracer. */
export const FOLLOW_RUN_US = 200;
/** A thread that ran longer than this between its resume and its next stop, {@link RELEASE_AFTER} times in a row, is released. */
export const RELEASE_RUN_US = 1000;
/**
 * Long runs in a row before a release: a thread that shares the tracer's CPU with other busy threads sometimes waits
 * that long to run at all, which is not computing.
 */
export const RELEASE_AFTER = 3;
/** Stops are timed against the monotonic clock for this long to learn the TSC rate. */
export const CALIBRATION_MS = 10;
/**
 * While threads follow it, the tracer thread is pinned to its CPU too (otherwise an idle CPU keeps pulling it away
 * and every thread follows it back and forth); every this many ms it is let free for one stop, so that the scheduler
 * can move it off a CPU that got busy.
 */
export const TRACER_RECHECK_MS = 250;

/** Bytes of a CPU mask (1024 CPUs). */
const MASK_BYTES = 128;
const TWO32 = 0x1_0000_0000;

/** Counters of the placement. */
export interface PlacementCounters {
  /** Times a thread was moved to the tracer's CPU. */
  follows: number;
  /** Times a thread that computes between traps got its affinity back. */
  releases: number;
  /** Threads left alone because the program set their affinity itself. */
  ownAffinity: number;
}

/** What the placement knows of one thread. */
interface ThreadPlace {
  /** CPU vmport pinned it to, or -1 (its mask is the start mask, or its own). */
  cpu: number;
  /** The program set this thread's affinity itself: never touched again. */
  own: boolean;
  /** TSC right before its last resume (halves), or hi = -1 when unknown. */
  resumeLo: number;
  resumeHi: number;
  /** Consecutive runs longer than {@link RELEASE_RUN_US}. */
  longRuns: number;
}

/** The placement of one run. */
export class Placement {
  /** Threads moved to the tracer's CPU, released, and affinity changes the program made itself. */
  readonly counters: PlacementCounters = { follows: 0, releases: 0, ownAffinity: 0 };
  /** The mask vmport was given at start: what released threads get back. */
  private readonly startMask = new Uint8Array(MASK_BYTES);
  private readonly startMaskSize: number;
  private readonly scratch = new Uint8Array(MASK_BYTES);
  private readonly threads = new Map<number, ThreadPlace>();
  /** TSC ticks per microsecond; 0 until calibrated. */
  private ticksPerUs = 0;
  private calLo = 0;
  private calHi = -1;
  private calMs = 0;
  /** CPU the tracer thread is pinned to, or -1; and the TSC (high half, low half) when it was. */
  private tracerCpu = -1;
  private tracerSinceLo = 0;
  private tracerSinceHi = 0;

  constructor(
    private readonly c: Libc,
    readonly policy: PlacementPolicy,
    private readonly step: Stepper,
  ) {
    const n = c.schedGetaffinity(0, MASK_BYTES, this.startMask);
    this.startMaskSize = Math.max(n, 0);
  }

  private setMask(tid: number, cpu: number): boolean {
    if (cpu < 0) return this.startMaskSize > 0 && this.c.schedSetaffinity(tid, this.startMaskSize, this.startMask) === 0;
    const m = this.scratch.fill(0);
    m[cpu >> 3] = 1 << (cpu & 7);
    return this.c.schedSetaffinity(tid, MASK_BYTES, m) === 0;
  }

  /** Whether `tid`'s mask is the one vmport set (`cpu`), or the start mask when `cpu` is -1. */
  private maskIs(tid: number, cpu: number): boolean {
    const m = this.scratch.fill(0);
    const n = this.c.schedGetaffinity(tid, MASK_BYTES, m);
    if (n <= 0) return false;
    for (let i = 0; i < n; i++) {
      const want = cpu < 0 ? (i < this.startMaskSize ? this.startMask[i] : 0) : i === cpu >> 3 ? 1 << (cpu & 7) : 0;
      if (m[i] !== want) return false;
    }
    return true;
  }

  private thread(tid: number): ThreadPlace {
    let t = this.threads.get(tid);
    if (t === undefined) {
      t = { cpu: -1, own: false, resumeLo: 0, resumeHi: -1, longRuns: 0 };
      this.threads.set(tid, t);
    }
    return t;
  }

  /** Before the program is spawned (the spawned trampoline inherits the tracer thread's mask). */
  beforeSpawn(): void {
    if (this.policy.mode === "pin") this.setMask(0, this.policy.cpu);
  }

  /** The root program was spawned and seized. */
  afterSpawn(root: number): void {
    if (this.policy.mode === "pin") this.setMask(root, this.policy.cpu);
    this.thread(root);
  }

  /** After every step: note when the thread it resumed was resumed. */
  afterStep(): void {
    const s = this.step;
    if (this.policy.mode !== "follow" || s.resumedTid === 0) return;
    const t = this.threads.get(s.resumedTid);
    if (t === undefined) return;
    t.resumeLo = s.resumeTscLo;
    t.resumeHi = s.resumeTscHi;
  }

  /** Learn the TSC rate from the traps of the first {@link CALIBRATION_MS} ms. */
  private calibrate(lo: number, hi: number): void {
    const now = performance.now();
    if (this.calHi < 0) {
      this.calLo = lo;
      this.calHi = hi;
      this.calMs = now;
      return;
    }
    const ms = now - this.calMs;
    if (ms < CALIBRATION_MS) return;
    const ticks = (hi - this.calHi) * TWO32 + (lo - this.calLo);
    if (ticks > 0) this.ticksPerUs = ticks / (ms * 1000);
  }

  /** A backdoor trap of `tid`, seen by the tracer thread on the stepper's `cpu`: where the policy acts. */
  onTrap(tid: number): void {
    if (this.policy.mode !== "follow") return;
    const s = this.step;
    const cpu = s.cpu;
    if (cpu < 0) return;
    const t = this.thread(tid);
    if (t.own) return;
    if (this.ticksPerUs === 0) this.calibrate(s.stopTscLo, s.stopTscHi);
    if (this.tracerCpu >= 0 && this.ticksPerUs > 0) {
      const ms = ((s.stopTscHi - this.tracerSinceHi) * TWO32 + (s.stopTscLo - this.tracerSinceLo)) / (this.ticksPerUs * 1000);
      if (ms > TRACER_RECHECK_MS && this.setMask(0, -1)) this.tracerCpu = -1; // let the scheduler move it
    }
    if (this.threads.size > 1) {
      // Several threads: act on what each ran since its resume, so not before the TSC rate is known.
      if (this.ticksPerUs === 0 || t.resumeHi < 0) return;
      const us = ((s.stopTscHi - t.resumeHi) * TWO32 + (s.stopTscLo - t.resumeLo)) / this.ticksPerUs;
      if (us > RELEASE_RUN_US) {
        if (++t.longRuns >= RELEASE_AFTER && t.cpu >= 0) this.release(tid, t);
        return;
      }
      t.longRuns = 0;
      if (us > FOLLOW_RUN_US && t.cpu < 0) return; // in between: a released thread stays released
    }
    if (this.tracerCpu !== cpu && this.setMask(0, cpu)) {
      this.tracerCpu = cpu;
      this.tracerSinceLo = s.stopTscLo;
      this.tracerSinceHi = s.stopTscHi;
    }
    if (t.cpu === cpu) return;
    // The first placement replaces the start mask, later ones the mask vmport set; anything else is the program's.
    if (!this.maskIs(tid, t.cpu)) {
      t.own = true;
      this.counters.ownAffinity++;
      return;
    }
    if (this.setMask(tid, cpu)) {
      t.cpu = cpu;
      this.counters.follows++;
    } else {
      t.own = true; // not ours to move (another user's setuid program, a cpuset): leave it, do not retry per trap
      this.counters.ownAffinity++;
    }
  }

  private release(tid: number, t: ThreadPlace): void {
    if (this.maskIs(tid, t.cpu) && this.setMask(tid, -1)) {
      t.cpu = -1;
      this.counters.releases++;
    } else {
      t.own = true;
      this.counters.ownAffinity++;
    }
  }

  /**
   * A fork, vfork or clone event: `child` is a new tracee with its parent's mask. A mask vmport set is not passed
   * on: the child gets the start mask back (it follows once it traps itself), so a program that starts busy
   * children or threads keeps every CPU for them. A mask the program set is the child's too.
   */
  onNewTask(parent: number, child: number): void {
    const p = this.threads.get(parent);
    const t = this.thread(child);
    if (p === undefined || this.policy.mode !== "follow") return;
    if (p.own) t.own = true;
    else if (p.cpu >= 0 && !this.setMask(child, -1)) t.own = true; // cannot change it: leave it alone
  }

  /** `tid` exited. */
  onExit(tid: number): void {
    this.threads.delete(tid);
  }
}
